"""Every failure of the Sentinel-compatible API as an ARM CloudError `{error: {code, message}}`.

The domain errors are mapped to HTTP once (`muster.api.problems`); this renderer only re-spells
the result the way ARM clients expect: PascalCase codes by status, a stale version as 409
Conflict (Sentinel's answer to a stale etag), field errors as `details[{code, target, message}]`.
A domain code that is already a CloudError code (e.g. `MissingApiVersionParameter`) is kept.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response

from muster.api.problems import ErrorInfo

CODES: dict[int, str] = {
    400: "BadRequest",
    401: "AuthenticationFailed",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
_CLOUD_CODE = re.compile(r"^[A-Z][A-Za-z]+$")


class CloudErrorDetail(BaseModel):
    """One offending field of a CloudError."""

    code: str
    target: str
    message: str


class CloudErrorBody(BaseModel):
    """The `error` of a CloudError."""

    code: str
    message: str
    details: list[CloudErrorDetail] = Field(default_factory=list)


class CloudError(BaseModel):
    """An error answer of the Sentinel-compatible API (ARM CloudError)."""

    error: CloudErrorBody


def cloud_error_code(status: int, code: str) -> str:
    """The CloudError code for an HTTP status (or the domain code when it is one already)."""
    if _CLOUD_CODE.match(code):
        return code
    return CODES.get(status, "BadRequest" if status < 500 else "InternalServerError")


def cloud_error_body(info: ErrorInfo) -> dict[str, Any]:
    """The CloudError document for a failure."""
    status = 409 if info.status == 412 else info.status
    message = info.detail
    if info.status == 412:
        message = f"Newer version of resource '{info.instance}' exists. Data was not saved"
    error: dict[str, Any] = {"code": cloud_error_code(status, info.code), "message": message}
    if info.errors:
        error["details"] = [
            {"code": info.code, "target": e.get("field", ""), "message": e.get("message", "")}
            for e in info.errors
        ]
    return {"error": error}


def render_cloud_error(info: ErrorInfo) -> Response:
    """Render a failure as CloudError JSON (409 instead of 412 for a stale etag)."""
    status = 409 if info.status == 412 else info.status
    headers = dict(info.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        orjson.dumps(cloud_error_body(info)),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
