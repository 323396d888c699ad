"""The ContraForce v2 API as a FastAPI sub-application (mounted at `/api/v2`): HTTP Basic
with a client id and secret, `{data, meta}` envelopes, RFC 7807 errors with ContraForce's
codes, and an `X-Request-Id` on every answer."""

from __future__ import annotations

from fastapi import FastAPI

from muster.api import problems
from muster.api.deps import Services
from muster.api.openapi_errors import ErrorFormat, declare_errors
from muster.compat.contraforce import routes_v2, routes_v2_across, routes_v2_legacy
from muster.compat.contraforce.envelopes import RequestIdMiddleware
from muster.compat.contraforce.errors import PROBLEM_JSON, V2Problem, render_v2


def create_v2_app(services: Services) -> FastAPI:
    """The v2 API, sharing the main app's services."""
    app = FastAPI(
        title="muster: ContraForce API v2",
        description="ContraForce's v2 API: HTTP Basic with the clientId and clientSecret "
        "of a muster API key.",
        redirect_slashes=False,
    )
    app.state.services = services
    problems.install(app, render_v2)
    declare_errors(app, ErrorFormat(V2Problem, PROBLEM_JSON))
    app.add_middleware(RequestIdMiddleware)
    # the legacy shape first: `{incidentId}/comments` must not be read as `{source}/{incidentId}`
    app.include_router(routes_v2_legacy.router)
    app.include_router(routes_v2.router)
    app.include_router(routes_v2_across.router)
    return app
