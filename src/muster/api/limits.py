"""Request body limits, enforced before the app reads a body.

| limit | setting | answer |
|---|---|---|
| body size | `max_body_bytes` | 413 `request.too_large`, by `Content-Length` or while streaming |
| nesting of a JSON body | `max_json_depth` | 400 `limits.nesting_too_deep` |

Every JSON or untyped body is read whole here (the app reads it whole anyway) and its nesting
measured on the bytes, in a few passes of C-speed byte operations, before any parser or
recursive walk meets it. Form posts and uploads (`application/x-www-form-urlencoded`,
`multipart/form-data`) and YAML stream through with the size limit only (YAML's nesting is
guarded by its loader, `muster.playbooks.yaml_io`). Errors are written in the format of the API
the path belongs to (`render_for`). docs/limits.md lists every limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from muster import jsontext
from muster.api.problems import ErrorInfo, Render, render_problem

STREAMED = (b"application/x-www-form-urlencoded", b"multipart/form-data", b"yaml")
_BRACKETS_AND_QUOTES = bytes(range(256)).translate(None, b'[]{}"')
_CURLY_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """The streamed body went past the limit (rendered as 413 problem+json)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body exceeds {max_bytes} bytes")


def json_nesting(body: bytes, limit: int) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not
    count), counted up to `limit + 1`; for text that is not JSON, a number the parser will
    not need (it refuses the text)."""
    # escaped backslashes, then escaped quotes, cannot open or close a string
    flat = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = flat.translate(None, _BRACKETS_AND_QUOTES).replace(b'""', b"")
    if b'"' in marks:  # strings holding brackets: keep what is outside them
        marks = b"".join(marks.split(b'"')[::2])
    pairs = marks.translate(_CURLY_AS_SQUARE)
    depth = 0
    while pairs and depth <= limit:  # each pass removes the innermost pairs: one level
        inner = pairs.replace(b"[]", b"")
        if len(inner) == len(pairs):
            break
        pairs, depth = inner, depth + 1
    return depth


def too_deep_at(body: bytes, limit: int) -> str:
    """Where a JSON body nests past `limit`: the first three steps of the path there
    (`alerts[2].vendor`), or `body` when the text does not even parse."""
    try:
        node = jsontext.loads(body)
    except jsontext.JSONTextError:
        return "body"
    path = ""
    for level in range(1, 4):
        members = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in members:
            if isinstance(child, dict | list) and jsontext.depth(child) > limit - level:
                step = f"[{key}]" if isinstance(key, int) else f".{key}"
                path, node = path + step, child
                break
        else:
            break
    return path.removeprefix(".") or "body"


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413 and JSON bodies nested deeper than `max_depth`
    with 400, before the app reads them; in the format of the API the path belongs to."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_depth: int,
        render_for: Callable[[str], Render] = lambda _: render_problem,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.render_for = render_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send, self._too_large)
            return
        content_type = headers.get(b"content-type", b"").lower()
        if any(kind in content_type for kind in STREAMED):
            await self.app(scope, self._limited(receive), send)
            return
        body, rest = await self._read(receive)
        if body is None:
            await self._refuse(scope, receive, send, self._too_large)
        elif json_nesting(body, self.max_depth) > self.max_depth:
            field = too_deep_at(body, self.max_depth)
            await self._refuse(scope, receive, send, lambda path: self._too_deep(path, field))
        else:
            await self.app(scope, _replay(body, rest, receive), send)

    def _limited(self, receive: Receive) -> Receive:
        """`receive`, raising `BodyTooLarge` once the body passes the limit."""
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        return limited_receive

    async def _read(self, receive: Receive) -> tuple[bytes | None, Message | None]:
        """The whole body (None past the limit), and a disconnect that ended it early."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None, None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _too_large(self, path: str) -> ErrorInfo:
        detail = f"the request body exceeds {self.max_bytes} bytes"
        # the body is left unread: the connection cannot carry another request
        return ErrorInfo(413, "Payload too large", detail, "request.too_large", path, headers=CLOSE)

    def _too_deep(self, path: str, field: str) -> ErrorInfo:
        message = f"arrays and objects nest at most {self.max_depth} levels in a body"
        return ErrorInfo(
            400,
            "Invalid input",
            f"{field}: {message}",
            "limits.nesting_too_deep",
            path,
            errors=[{"field": field, "message": message}],
        )

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: Callable[[str], ErrorInfo]
    ) -> None:
        path = scope.get("path", "")
        await self.render_for(path)(error(path))(scope, receive, send)


def _replay(body: bytes, rest: Message | None, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then whatever comes next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if rest is not None:
        pending.append(rest)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
