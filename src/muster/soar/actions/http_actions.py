"""Outbound HTTP for actions: one way to send, read and classify, and the `http_request` action.

Policy, shared with `send_webhook`:

- Only `http` and `https` URLs; redirects are never followed (a redirect could leave the
  allowed hosts), so a 3xx is an answer like any other.
- Time is bounded by the smallest of the action's `timeout`, the setting
  `http_action_timeout_seconds` and the step's own `timeoutSeconds`, per phase (connect,
  write, read) and for the whole body.
- Bodies are read up to 1 MiB: JSON is parsed when it parses, anything else is kept as text of
  at most 64 KiB (`truncated` says when something was left out).
- Timeouts, connection failures, 5xx, 408 and 429 raise `RetryableError`; other unexpected
  statuses, a forbidden host or scheme raise `RequestFailed` (no retry helps).

`http_request` may only reach the hosts the tenant allows in its setting `soarAllowedHosts`:
exact host names or IP addresses, or `*.example.com` for any name below example.com (but not
example.com itself). The HTTP transport can be swapped on the class (`transport`), the httpx
way; tests use a real loopback server instead.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

from muster import jsontext
from muster.config import Settings
from muster.soar.actions.base import Action, ActionContext, RetryableError, register
from muster.soar.actions.camel import CamelInput, CamelOutput

__all__ = [
    "ALLOWED_HOSTS_SETTING",
    "HostNotAllowed",
    "HttpRequest",
    "Reply",
    "RequestFailed",
    "check_url",
    "host_allowed",
    "send",
]

ALLOWED_HOSTS_SETTING = "soarAllowedHosts"
MAX_READ_BYTES = 1024 * 1024
MAX_TEXT_BYTES = 64 * 1024
RETRY_STATUSES = frozenset({408, 429})
KEPT_HEADERS = ("content-type", "content-length", "location", "etag", "retry-after", "date")
USER_AGENT = "muster-soar"
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class RequestFailed(Exception):
    """The request cannot succeed as written (forbidden host or scheme, a 4xx answer)."""


class HostNotAllowed(RequestFailed):
    """The URL's host is not in the tenant's `soarAllowedHosts` setting."""


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer as actions report it: status, a few headers, parsed body."""

    status: int
    headers: dict[str, str]
    body: Any
    truncated: bool


def check_url(url: str) -> str:
    """`url` when it is an absolute http(s) URL with a host, else ValueError."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are allowed, not {parsed.scheme or 'none'!r}")
    if not parsed.host:
        raise ValueError("the URL has no host")
    return url


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """True when `host` equals an entry or lies below a `*.domain` entry (case-insensitive)."""
    host = host.strip().rstrip(".").lower()
    for entry in allowed:
        pattern = str(entry).strip().rstrip(".").lower().strip("[]")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif pattern and host == pattern:
            return True
    return False


def check_allowed(url: str, tenant_settings: Mapping[str, Any]) -> None:
    """Raise HostNotAllowed unless the tenant's `soarAllowedHosts` admits the URL's host."""
    allowed = tenant_settings.get(ALLOWED_HOSTS_SETTING) or []
    if isinstance(allowed, str):
        allowed = [allowed]
    parsed = httpx.URL(url)
    names = {parsed.host, parsed.raw_host.decode("ascii", errors="replace")}
    if not any(host_allowed(name, allowed) for name in names):
        raise HostNotAllowed(
            f"host {parsed.host!r} is not allowed: add it to the tenant setting "
            f"{ALLOWED_HOSTS_SETTING} (now {list(allowed)!r})"
        )


def shown(url: httpx.URL | str) -> str:
    """The URL without credentials, query or fragment (fit for logs and errors)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', errors='replace')}{parsed.path}"


@functools.lru_cache(maxsize=1)
def _shared_client() -> httpx.Client:
    """One client for every action: its TLS context is built once (that costs milliseconds of
    CPU) and its connections are kept alive between steps. httpx clients are thread-safe."""
    return httpx.Client(follow_redirects=False)


@functools.lru_cache(maxsize=8)
def _client(transport: httpx.BaseTransport) -> httpx.Client:
    """A client over an injected transport (tests), kept like the shared one."""
    return httpx.Client(transport=transport, follow_redirects=False)


def send(
    method: str,
    url: str,
    *,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
    **request: Any,
) -> Reply:
    """Send one request (no redirects) within `timeout`; RetryableError on transport failure."""
    started = time.monotonic()
    client = _shared_client() if transport is None else _client(transport)
    try:
        with client.stream(method, url, timeout=timeout, **request) as response:
            buffer, complete = bytearray(), True
            for chunk in response.iter_bytes():
                buffer += chunk
                if time.monotonic() - started > timeout:
                    raise httpx.ReadTimeout("the body took longer than the timeout")
                if len(buffer) > MAX_READ_BYTES:
                    del buffer[MAX_READ_BYTES:]
                    complete = False
                    break
    except _TRANSIENT as exc:
        raise RetryableError(f"{method} {shown(url)}: {type(exc).__name__}: {exc}") from exc
    body, truncated = _body(response, bytes(buffer), complete)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return Reply(response.status_code, headers, body, truncated)


def _body(response: httpx.Response, raw: bytes, complete: bool) -> tuple[Any, bool]:
    """Parsed JSON when the body is complete JSON, else text cut at MAX_TEXT_BYTES."""
    kind = response.headers.get("content-type", "").lower()
    if complete and ("json" in kind or raw.lstrip()[:1] in (b"{", b"[")):
        try:
            return jsontext.loads(raw), False
        except jsontext.JSONTextError:
            pass
    try:
        text = raw[:MAX_TEXT_BYTES].decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        text = raw[:MAX_TEXT_BYTES].decode("utf-8", errors="replace")
    return text, not complete or len(raw) > MAX_TEXT_BYTES


def judge(method: str, url: str, reply: Reply, expected: Iterable[int] | None = None) -> None:
    """Raise unless the status is expected (default 2xx): RetryableError when it may pass."""
    wanted = set(expected) if expected is not None else set(range(200, 300))
    if reply.status in wanted:
        return
    snippet = reply.body if isinstance(reply.body, str) else jsontext.dumps(reply.body)
    message = f"{method} {shown(url)} answered HTTP {reply.status}: {snippet[:300]}"
    if reply.status >= 500 or reply.status in RETRY_STATUSES:
        raise RetryableError(message)
    raise RequestFailed(message)


def timeout_for(action: type[Action], ctx: ActionContext, asked: float | None = None) -> float:
    """The smallest of the action's timeout, the setting and the step's own (seconds)."""
    return min(action.timeout, ctx.settings.http_action_timeout_seconds, asked or math.inf)


Url = Annotated[str, Field(min_length=1, max_length=8192)]
Scalar = str | int | float | bool


class HttpRequestInput(CamelInput):
    """One HTTP request; `json` and `body` exclude each other."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: Url
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="a JSON body")
    body: str | None = Field(default=None, description="a text body (not with `json`)")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(
        default=None, description="statuses that count as success (default: any 2xx)"
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestInput:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give `json` or `body`, not both")
        return self


class HttpResponseOutput(CamelOutput):
    """The answer: status, a few headers, body (parsed JSON or text)."""

    status: int
    headers: dict[str, str]
    body: Any
    truncated: bool


@register
class HttpRequest(Action):
    """Call an HTTP API on a host the tenant allows; the answer becomes the step's output."""

    name = "http_request"
    summary = (
        "HTTP request to a host allowed by the tenant setting soarAllowedHosts; output: "
        "status, headers, body (JSON parsed)."
    )
    Input = HttpRequestInput
    Output = HttpResponseOutput
    timeout = 30.0

    @classmethod
    def time_limit(cls, settings: Settings) -> float:
        """Bounded by `http_action_timeout_seconds` as well."""
        return min(cls.timeout, settings.http_action_timeout_seconds)

    transport: ClassVar[httpx.BaseTransport | None] = None

    def run(self, ctx: ActionContext, params: HttpRequestInput) -> HttpResponseOutput:
        """The answer with an expected status, or RequestFailed / RetryableError."""
        check_allowed(params.url, ctx.tenant_settings)
        headers = httpx.Headers({"User-Agent": USER_AGENT})
        if params.method != "GET":
            headers["Idempotency-Key"] = ctx.idempotency_key
        headers.update(params.headers)
        request: dict[str, Any] = {"headers": headers, "params": params.query or None}
        if params.json_body is not None:
            request["json"] = to_jsonable_python(params.json_body)
        elif params.body is not None:
            request["content"] = params.body.encode()
        reply = send(
            params.method,
            params.url,
            timeout=timeout_for(type(self), ctx, params.timeout_seconds),
            transport=type(self).transport,
            **request,
        )
        judge(params.method, params.url, reply, params.expect_status)
        return HttpResponseOutput(
            status=reply.status, headers=reply.headers, body=reply.body, truncated=reply.truncated
        )
