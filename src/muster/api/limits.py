"""Request body limit, enforced before the body is read into memory."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from muster.api.problems import ErrorInfo, Render, render_problem


class BodyTooLarge(HTTPException):
    """The streamed body went past the limit (rendered as 413 problem+json)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body exceeds {max_bytes} bytes")


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413, by header or while streaming; the error is
    written in the format of the API the path belongs to (`render_for`)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        render_for: Callable[[str], Render] = lambda _: render_problem,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.render_for = render_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        response = self.render_for(path)(
            ErrorInfo(
                413,
                "Payload too large",
                f"the request body exceeds {self.max_bytes} bytes",
                "request.too_large",
                path,
                headers={"Connection": "close"},
            )
        )
        await response(scope, receive, send)
