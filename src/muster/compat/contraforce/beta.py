"""The ContraForce beta partner API as a FastAPI sub-application (mounted at
`/api/beta/partners`): `x-api-key` auth, `tenantId` query parameter, `{value, message,
isSuccess}` envelope, errors `{message, isSuccess: false}`."""

from __future__ import annotations

from fastapi import FastAPI

from muster.api import problems
from muster.api.deps import Services
from muster.api.openapi_errors import ErrorFormat, declare_errors
from muster.compat.contraforce.errors import BetaError, render_beta
from muster.compat.contraforce.routes_beta import router


def create_beta_app(services: Services) -> FastAPI:
    """The beta partner API, sharing the main app's services."""
    app = FastAPI(
        title="muster: ContraForce partner API (beta)",
        description="ContraForce's beta partner API: send your muster API key as x-api-key.",
        redirect_slashes=False,
    )
    app.state.services = services
    problems.install(app, render_beta)
    declare_errors(app, ErrorFormat(BetaError, "application/json"))
    app.include_router(router)
    return app
