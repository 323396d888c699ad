"""Every error as RFC 7807 `application/problem+json`, mapped from domain errors in one table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from muster import errors
from muster.db.outage import RETRY_AFTER_SECONDS, database_unavailable, describe
from muster.query import errors as query_errors

log = structlog.get_logger("muster.api")

PROBLEM_JSON = "application/problem+json"

# Domain error class -> (HTTP status, title). The most specific class wins (MRO order).
STATUS: dict[type[errors.DomainError], tuple[int, str]] = {
    errors.NotFound: (404, "Not found"),
    errors.InvalidInput: (400, "Invalid input"),
    errors.StaleVersion: (412, "Precondition failed"),
    errors.InvalidTransition: (409, "Lifecycle rule violated"),
    errors.Conflict: (409, "Conflict"),
    errors.Unauthenticated: (401, "Unauthenticated"),
    errors.TenantSuspended: (403, "Tenant suspended"),
    errors.Forbidden: (403, "Forbidden"),
    errors.PayloadTooLarge: (413, "Payload too large"),
    errors.DomainError: (400, "Bad request"),
}


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """One failure, before it is rendered in an API's own error format."""

    status: int
    title: str
    detail: str
    code: str
    instance: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] | None = None


Render = Callable[[ErrorInfo], Response]


class FieldProblem(BaseModel):
    """One offending field (filter errors add `line`, `column` and `expected`)."""

    model_config = ConfigDict(extra="allow")

    field: str
    message: str


class Problem(BaseModel):
    """An error answer of the native API: RFC 7807 problem+json with a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    errors: list[FieldProblem] = Field(default_factory=list)


def render_problem(info: ErrorInfo) -> Response:
    """muster's own error format: RFC 7807 problem+json with a stable `code`."""
    return problem(
        info.status,
        info.title,
        info.detail,
        info.code,
        info.instance,
        errors_=info.errors,
        headers=info.headers,
    )


def problem(
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str,
    *,
    errors_: Sequence[Mapping[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render one problem document."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors_:
        body["errors"] = [dict(e) for e in errors_]
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def status_of(exc: errors.DomainError) -> tuple[int, str]:
    """The (status, title) of a domain error, by its most specific mapped class."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400, "Bad request"


def allowed_methods(request: Request) -> str:
    """Every method the app serves at the request's path (Starlette's 405 names only those of
    the first route that matched the path, one of several when each method has its own)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def install(app: FastAPI, render: Render = render_problem) -> None:
    """Register the handlers that turn every failure into an error document: problem+json
    by default, or the format `render` writes (the compatible APIs' own)."""

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> Response:
        status, title = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return render(
            ErrorInfo(
                status,
                title,
                exc.detail,
                exc.code,
                request.url.path,
                errors=[dict(e) for e in exc.errors],
                headers=headers,
            )
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        found = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
                "message": err["msg"],
            }
            for err in exc.errors()
        ]
        first = found[0] if found else {"field": "body", "message": "invalid"}
        return render(
            ErrorInfo(
                400,
                "Invalid input",
                f"{first['field']}: {first['message']}",
                "validation_failed",
                request.url.path,
                errors=found,
            )
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = {
            404: "route.not_found",
            405: "route.method_not_allowed",
            413: "request.too_large",
        }.get(exc.status_code, "http.error")
        title = {413: "Payload too large"}.get(exc.status_code, str(exc.detail))
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return render(
            ErrorInfo(
                exc.status_code, title, str(exc.detail), code, request.url.path, headers=headers
            )
        )

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        return render(
            ErrorInfo(
                412,
                "Precondition failed",
                "the resource changed meanwhile; reload it",
                "incident.stale_version",
                request.url.path,
            )
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        log.warning("integrity_error", error=str(exc.orig))
        return render(
            ErrorInfo(
                409,
                "Conflict",
                "a concurrent request wrote the same data; retry",
                "conflict.concurrent_write",
                request.url.path,
            )
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DisconnectionError)
    async def _database(request: Request, exc: Exception) -> Response:
        refused = query_errors.from_database(exc)  # a regex PostgreSQL cannot read
        if refused is not None:
            return await _domain(request, refused)
        if not database_unavailable(exc):
            return await _crash(request, exc)
        log.error("database_unavailable", error=describe(exc))
        return render(
            ErrorInfo(
                503,
                "Service unavailable",
                "the database is unavailable; retry shortly",
                "database.unavailable",
                request.url.path,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return render(
            ErrorInfo(
                500,
                "Internal error",
                "an unexpected error occurred; it has been logged",
                "internal_error",
                request.url.path,
            )
        )
