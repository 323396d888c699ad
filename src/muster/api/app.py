"""The app factory: `create_app(settings)` builds everything once and wires it together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

from muster import __version__
from muster.alerts.combiner import IngestCombiner
from muster.api import problems
from muster.api.deps import Services, refuse_nul_in_url
from muster.api.facades import BareMountPaths, mount_facades, render_by_path, render_for
from muster.api.limits import BodyLimit
from muster.api.openapi_errors import ErrorFormat, declare_errors
from muster.api.routes import (
    alerts,
    apikeys,
    audit,
    grouping_rules,
    incidents,
    metrics,
    playbooks,
    prometheus,
    sla,
    soar,
    tenants,
    users,
    webhooks,
)
from muster.api.security_headers import install as install_security_headers
from muster.auth.cache import PrincipalCache
from muster.clock import Clock, SystemClock
from muster.config import Settings
from muster.db.engine import Database, create_db_engine
from muster.logs import configure_logging
from muster.notify.mail.listener import start_listener
from muster.runtime import tune_garbage_collector
from muster.web.app import create_web_app
from muster.worker.handlers import all_handlers, all_periodic
from muster.worker.loop import Worker

DESCRIPTION = """
muster groups security alerts into incidents and drives them through their lifecycle.

Authenticate with `Authorization: Bearer <API key>`. A global key acts in one tenant by naming
it in `X-Muster-Tenant`. Errors are `application/problem+json` with a stable `code`.
"""


def start_embedded_worker(db: Database, settings: Settings, clock: Clock) -> Worker:
    """The job worker `muster serve` runs in a thread (SOAR, notifications, the SLA scan)."""
    return Worker(
        db,
        all_handlers(db, settings, clock),
        clock=clock,
        poll_seconds=settings.worker_poll_seconds,
        lease=timedelta(seconds=settings.job_lease_seconds),
        periodic=all_periodic(db, settings, clock),
    ).start()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the ASGI app; the database engine lives as long as the app's lifespan."""
    settings = settings or Settings()
    configure_logging(settings)
    db = create_db_engine(settings, background_checkpoints=True)

    clock = clock or SystemClock()
    combiner = IngestCombiner(db, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector(settings.gc_young_collection_every)
        worker = start_embedded_worker(db, settings, clock) if settings.embedded_worker else None
        listener = start_listener(db, settings, clock)  # when settings.mail_listen is set
        yield
        if listener is not None:
            listener.stop()
        if worker is not None:
            worker.stop()
        combiner.close()
        db.dispose()

    app = FastAPI(
        title="muster",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_in_url)],
    )
    app.state.services = Services(
        settings=settings,
        db=db,
        clock=clock,
        combiner=combiner,
        auth_cache=PrincipalCache(settings.auth_cache_seconds),
    )
    problems.install(app, render_by_path)  # a compat path no mount took: its API's format
    declare_errors(app, ErrorFormat(problems.Problem, problems.PROBLEM_JSON))
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        render_for=render_for,
    )
    app.add_middleware(BareMountPaths)
    install_security_headers(app, settings)  # outermost: every response, CORS when configured

    api = APIRouter(prefix="/api/v1")
    for module in (
        alerts,
        incidents,
        tenants,
        users,
        apikeys,
        grouping_rules,
        playbooks,
        sla,
        metrics,
        webhooks,
        audit,
    ):
        api.include_router(module.router)
    api.include_router(soar.router)
    api.include_router(soar.incident_router)
    app.include_router(api)
    app.include_router(prometheus.router)
    mount_facades(app, app.state.services)  # ContraForce beta and v2, Sentinel
    app.mount("/ui", create_web_app(app.state.services))  # the analyst's web console

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    @app.get("/health", tags=["service"], summary="Liveness (no database access)")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get(
        "/health/ready",
        tags=["service"],
        summary="Readiness: the database answers (503 with Retry-After while it does not)",
    )
    def ready() -> JSONResponse:
        db.ping()
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    return app
