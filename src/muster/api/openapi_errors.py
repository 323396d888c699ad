"""Every operation's error answers, declared in an app's OpenAPI from the shape of the operation.

FastAPI documents a 422 `HTTPValidationError` on every operation with parameters, but no muster
API answers 422: bad input is a 400 in the API's own error format, and authentication, tenancy,
limits and the database add answers of their own. `declare_errors(app, fmt)` rewrites the
generated document once, the same way for every operation of the app:

| status | declared on | answered for |
|---|---|---|
| 400 | every operation | a bad parameter or body, a bad filter (`query.*`), a limit (`limits.*`) |
| 401 | every operation | no credential, or one that does not exist |
| 403 | every operation | the role, a suspended tenant, another workspace |
| 404 | every operation | an unknown id (another tenant's ids too) |
| 409 | operations that are not GET | a lifecycle rule, a clashing or concurrent write |
| 412 | operations with an `If-Match` header | a stale version (Sentinel answers 409) |
| 413 | operations with a request body | a body over `max_body_bytes` |
| 503 | every operation | the database is unavailable |

The error body is the API's own model (`ErrorFormat`), under the media type it is sent with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

Spec = dict[str, Any]
Edit = Callable[[Spec], None]

DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: a parameter, the body, a filter or a limit (the error names it)",
    401: "Unauthenticated: no credential, or one that does not exist",
    403: "Forbidden: the credential's role, a suspended tenant or another workspace",
    404: "Not found (another tenant's ids too)",
    409: "Conflict: a lifecycle rule, a clashing or concurrent write",
    412: "Precondition failed: If-Match names a version that is not the current one",
    413: "Payload too large: the body exceeds the configured limit",
    503: "Service unavailable: the database cannot be reached; retry shortly",
}
_UNUSED = ("HTTPValidationError", "ValidationError")
_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@dataclass(frozen=True, slots=True)
class ErrorFormat:
    """How one API writes its errors: the body's model and media type, and the status it
    answers a stale version with."""

    model: type[BaseModel]
    media_type: str
    stale_status: int = 412


def error_statuses(method: str, operation: Spec, stale_status: int = 412) -> list[int]:
    """The error statuses an operation can answer, from its method, body and headers."""
    statuses = {400, 401, 403, 404, 503}
    if method != "get":
        statuses.add(409)
    if "requestBody" in operation:
        statuses.add(413)
    headers = {
        str(p.get("name", "")).lower()
        for p in operation.get("parameters", [])
        if p.get("in") == "header"
    }
    if "if-match" in headers:
        statuses.add(stale_status)
    return sorted(statuses)


def error_responses(spec: Spec, fmt: ErrorFormat) -> None:
    """Replace FastAPI's 422 with the operation's error answers in the API's own format."""
    name = fmt.model.__name__
    schema = fmt.model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components[name] = schema
    for unused in _UNUSED:
        components.pop(unused, None)
    content = {fmt.media_type: {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    for method, operation in _operations(spec):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        for status in error_statuses(method, operation, fmt.stale_status):
            responses.setdefault(
                str(status), {"description": DESCRIPTIONS[status], "content": content}
            )


def _operations(spec: Spec) -> list[tuple[str, Spec]]:
    return [
        (method, operation)
        for item in spec.get("paths", {}).values()
        for method, operation in item.items()
        if method in _METHODS
    ]


def declare_errors(app: FastAPI, fmt: ErrorFormat, *edits: Edit) -> None:
    """Have `app.openapi()` declare every operation's error answers in `fmt` (and apply
    `edits`, further declarations of the app's own), built once and cached like FastAPI's."""
    generate = app.openapi

    def openapi() -> Spec:
        if app.openapi_schema is None:
            spec = generate()
            error_responses(spec, fmt)
            for edit in edits:
                edit(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
