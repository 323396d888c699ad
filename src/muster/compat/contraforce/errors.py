"""Error renderers: each ContraForce API answers failures in its own format.

Beta: `{message, isSuccess: false}` with the HTTP status (no `value`).
v2: RFC 7807 `application/problem+json` with ContraForce's stable `code`s, the request id and
time, and an `errors` map `{field: [message, ...]}` for VALIDATION_ERROR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from muster.api.problems import ErrorInfo
from muster.compat.contraforce.envelopes import REQUEST_ID_HEADER, iso, request_id

PROBLEM_JSON = "application/problem+json"

# v2 code -> stable title
TITLES: dict[str, str] = {
    "VALIDATION_ERROR": "One or more validation errors occurred",
    "BAD_REQUEST": "Bad request",
    "UNAUTHORIZED": "Unauthorized",
    "INSUFFICIENT_WORKSPACE_ROLE": "Insufficient workspace role",
    "FORBIDDEN": "Forbidden",
    "NOT_FOUND": "Resource not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "CONFLICT": "Conflict",
    "PRECONDITION_FAILED": "Precondition failed",
    "PAYLOAD_TOO_LARGE": "Payload too large",
    "SERVICE_UNAVAILABLE": "Service unavailable",
    "INTERNAL_ERROR": "Internal server error",
}

_BY_STATUS = {
    401: "UNAUTHORIZED",
    403: "INSUFFICIENT_WORKSPACE_ROLE",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    503: "SERVICE_UNAVAILABLE",
}


class BetaError(BaseModel):
    """An error answer of the beta partner API."""

    message: str
    isSuccess: bool


class V2Problem(BaseModel):
    """An error answer of the v2 API: RFC 7807 with ContraForce's code, request id and time."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str
    requestId: str
    timestamp: str
    errors: dict[str, list[str]] = Field(default_factory=dict)


def v2_code(status: int, muster_code: str, has_errors: bool) -> str:
    """The ContraForce v2 code for a muster failure (by status; 400 splits on field errors)."""
    if status in (400, 422):
        return "VALIDATION_ERROR" if has_errors else "BAD_REQUEST"
    if muster_code == "tenant.suspended":
        return "FORBIDDEN"
    if status >= 500 and status != 503:
        return "INTERNAL_ERROR"
    return _BY_STATUS.get(status, "BAD_REQUEST")


def errors_map(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """`[{field, message}]` as ContraForce's `{field: [message, ...]}` (first seen first)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(str(error.get("field", "")), []).append(str(error.get("message", "")))
    return out


def v2_problem_body(
    status: int, code: str, detail: str, instance: str, errors: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """One v2 problem document."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(code, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "requestId": request_id(),
        "timestamp": iso(datetime.now(UTC)),
    }
    if errors:
        body["errors"] = errors_map(errors)
    return body


def render_v2(info: ErrorInfo) -> Response:
    """Render a failure of the v2 API as ContraForce problem+json."""
    status = 400 if info.status == 422 else info.status
    code = v2_code(status, info.code, bool(info.errors))
    detail = info.detail if status < 500 else "an unexpected error occurred; it has been logged"
    body = v2_problem_body(status, code, detail, info.instance, info.errors)
    headers = {k: v for k, v in (info.headers or {}).items() if k.lower() != "www-authenticate"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ContraForce"'
    headers[REQUEST_ID_HEADER] = body["requestId"]
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def render_beta(info: ErrorInfo) -> Response:
    """Render a failure of the beta partner API as `{message, isSuccess: false}`."""
    status = 400 if info.status == 422 else info.status
    message = info.detail if status < 500 else "an unexpected error occurred; it has been logged"
    headers = {k: v for k, v in (info.headers or {}).items() if k.lower() != "www-authenticate"}
    return Response(
        orjson.dumps({"message": message, "isSuccess": False}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
