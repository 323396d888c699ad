"""The analyst's web console: a FastAPI sub-application of server-rendered pages, mounted at
`/ui` by `muster.api.app` and sharing its services.

Failures are HTML pages in the same status the API would answer (404 for another tenant's
incident, 403, 400 with the problem's message); a page asked for without a live session is
a 303 to the login page (htmx requests get an `HX-Redirect` header instead).
"""

from __future__ import annotations

from pathlib import Path

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from muster import __version__, errors
from muster.api.deps import Services, refuse_nul_in_url
from muster.api.problems import status_of
from muster.db.outage import RETRY_AFTER_SECONDS, database_unavailable, describe
from muster.web import (
    routes_admin,
    routes_alerts,
    routes_grouping,
    routes_incident,
    routes_login,
    routes_playbooks,
    routes_queue,
    routes_sla,
    routes_soar,
    routes_webhooks,
)
from muster.web.pages import error_page, login_redirect

STATIC_DIR = Path(__file__).parent / "static"
log = structlog.get_logger("muster.web")


def _first_error(exc: RequestValidationError | ValidationError) -> str:
    found = exc.errors()
    if not found:
        return "the request is not valid"
    first = found[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


def install_error_pages(app: FastAPI) -> None:
    """Render every failure as an HTML page (or a login redirect)."""

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> Response:
        if isinstance(exc, errors.Unauthenticated):
            return login_redirect(request)
        status, title = status_of(exc)
        return error_page(request, status, title, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 400, "Invalid input", _first_error(exc))

    @app.exception_handler(ValidationError)
    async def _form(request: Request, exc: ValidationError) -> Response:
        return error_page(request, 400, "Invalid input", _first_error(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        title = {404: "Page not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return error_page(request, exc.status_code, title, str(exc.detail))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        return error_page(request, 412, "Changed meanwhile", "the incident changed; reload it")

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.warning("integrity_error", error=str(exc.orig))
        return error_page(request, 409, "Conflict", "a concurrent change wrote the same data")

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DisconnectionError)
    async def _database(request: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            return await _crash(request, exc)
        log.error("database_unavailable", error=describe(exc))
        page = error_page(request, 503, "Unavailable", "the database is unavailable; retry")
        page.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return page

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return error_page(request, 500, "Internal error", "an unexpected error was logged")


def create_web_app(services: Services) -> FastAPI:
    """The console over `services` (mount it at `/ui`)."""
    app = FastAPI(
        title="muster console",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_nul_in_url)],
    )
    app.state.services = services
    install_error_pages(app)
    for module in (
        routes_login,
        routes_queue,
        routes_incident,
        routes_soar,
        routes_alerts,
        routes_playbooks,
        routes_grouping,
        routes_sla,
        routes_webhooks,
        routes_admin,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
