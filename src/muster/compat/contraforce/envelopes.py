"""The two ContraForce envelopes, their timestamps and the request id each v2 answer carries.

Beta: `{value, message, isSuccess}` (errors `{message, isSuccess: false}`, no value).
v2: `{data, meta{requestId, timestamp}}`, paged lists add `pagination{continuationToken, hasMore}`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID: ContextVar[str | None] = ContextVar("contraforce_request_id", default=None)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def iso(moment: datetime | None) -> str | None:
    """UTC ISO-8601 with a `Z` suffix (naive values are taken as UTC); None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def request_id() -> str:
    """The current request's id (the `X-Request-Id` answered), minted if none is set."""
    current = _REQUEST_ID.get()
    if current is None:
        current = str(uuid.uuid4())
        _REQUEST_ID.set(current)
    return current


def beta_value(value: Any, message: str = "Success") -> dict[str, Any]:
    """A beta success envelope."""
    return {"value": value, "message": message, "isSuccess": True}


def v2_data(data: Any, now: datetime) -> dict[str, Any]:
    """A v2 success envelope with the request's id and `now`."""
    return {"data": data, "meta": {"requestId": request_id(), "timestamp": iso(now)}}


def v2_page(data: Any, continuation_token: str | None, now: datetime) -> dict[str, Any]:
    """A v2 paged envelope: `hasMore` is true exactly when a continuation token is given."""
    return {
        "data": data,
        "pagination": {
            "continuationToken": continuation_token,
            "hasMore": continuation_token is not None,
        },
        "meta": {"requestId": request_id(), "timestamp": iso(now)},
    }


class RequestIdMiddleware:
    """Give every request an id (a sane client `X-Request-Id` is kept) and answer it in the
    `X-Request-Id` header; envelopes and error documents read it through `request_id()`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _CLIENT_ID.fullmatch(given) else str(uuid.uuid4())
        _REQUEST_ID.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
