"""The Sentinel-compatible API as a FastAPI sub-application, mounted at `/subscriptions`.

It shares the main app's services (database, clock, key cache) and answers every failure as an
ARM CloudError (`muster.compat.sentinel.errors`). docs/compatibility.md describes what it serves.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from muster import __version__
from muster.api import problems
from muster.api.deps import Services, refuse_nul_in_url
from muster.compat.sentinel import routes
from muster.compat.sentinel.errors import render_cloud_error

MOUNT_PATH = "/subscriptions"


def create_app(services: Services) -> FastAPI:
    """The sub-app serving Sentinel's incidents routes over `services`."""
    app = FastAPI(
        title="muster: Microsoft Sentinel-compatible API",
        version=__version__,
        description="The incidents, comments, relations, alerts and entities routes of the "
        "Microsoft Sentinel REST API over muster; the workspace name is the tenant id and the "
        "bearer token a muster API key.",
        dependencies=[Depends(refuse_nul_in_url)],
    )
    app.state.services = services
    problems.install(app, render_cloud_error)
    app.include_router(routes.router)
    return app
