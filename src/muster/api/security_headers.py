"""Security headers on every HTTP response: the native and compatible APIs and the console.

One ASGI middleware, outermost in `muster.api.app`, so pages, JSON, errors and static files
all pass through it:

- everywhere: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
  `Referrer-Policy: same-origin`, and `Strict-Transport-Security` when muster is reached over
  https (the request's scheme, or `public_url`, as for Secure cookies);
- a Content-Security-Policy: the console's (`CONSOLE_CSP`: scripts, styles and images from
  this origin only, nothing inline, no framing); for other HTML (the API docs pages, which load
  their viewer from a CDN) only `frame-ancestors 'none'`; for everything else (JSON) nothing
  may load at all (`API_CSP`);
- `Cache-Control: no-store`, unless the response set its own or is one of the console's
  static files: API answers and pages carry tenant data and must not stay in shared caches.

A header the application set itself is left alone, except the CSP and framing headers.

CORS is off unless `cors_origins` names origins: then Starlette's `CORSMiddleware` answers
for exactly those (`install`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from muster.config import Settings

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000"
BASELINE: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "If-Match", "X-Muster-Tenant", "x-api-key")
CORS_EXPOSED = ("ETag", "Location", "Retry-After")
# what a console page carries even where it is rendered outside this middleware
CONSOLE_HEADERS: dict[str, str] = {"Content-Security-Policy": CONSOLE_CSP, **BASELINE}


def served_over_https(scheme: str, public_url: str) -> bool:
    """True when browsers reach muster over https (directly or per `public_url`)."""
    return scheme == "https" or public_url.lower().startswith("https://")


def security_headers(
    path: str,
    content_type: str,
    *,
    https: bool,
    console_prefix: str,
    cached_prefixes: tuple[str, ...],
) -> dict[str, str]:
    """The headers a response to `path` with this content type gets (pure)."""
    headers = dict(BASELINE)
    if path == console_prefix or path.startswith(console_prefix + "/"):
        headers["Content-Security-Policy"] = CONSOLE_CSP
    elif content_type.split(";", 1)[0].strip().lower() == "text/html":
        headers["Content-Security-Policy"] = DOCS_CSP
    else:
        headers["Content-Security-Policy"] = API_CSP
    if https:
        headers["Strict-Transport-Security"] = HSTS
    if not path.startswith(cached_prefixes):
        headers["Cache-Control"] = "no-store"
    return headers


_OVERRIDE = frozenset({"content-security-policy", "x-frame-options", "x-content-type-options"})


class SecurityHeaders:
    """Add `security_headers(...)` to every HTTP response of the wrapped app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        public_url: str,
        console_prefix: str = "/ui",
        cached_prefixes: tuple[str, ...] = ("/ui/static/",),
    ) -> None:
        self.app = app
        self.public_url = public_url
        self.console_prefix = console_prefix
        self.cached_prefixes = cached_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = served_over_https(scope.get("scheme", "http"), self.public_url)
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                wanted = security_headers(
                    path,
                    headers.get("content-type", ""),
                    https=https,
                    console_prefix=self.console_prefix,
                    cached_prefixes=self.cached_prefixes,
                )
                for name, value in wanted.items():
                    if name.lower() in _OVERRIDE or name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: Starlette, settings: Settings) -> None:
    """Wrap `app` in the security headers and, only when `cors_origins` lists some, CORS for
    exactly those origins (no cookies: API keys travel in headers)."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_HEADERS),
            expose_headers=list(CORS_EXPOSED),
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, public_url=settings.public_url)
