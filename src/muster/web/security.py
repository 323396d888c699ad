"""The console's browser-side defences: security headers, CSRF tokens.

- Every response carries the console's Content-Security-Policy (scripts, styles and images
  from this origin only, no inline code, no eval), forbids framing, and sets nosniff and a
  same-origin referrer: `muster.api.security_headers`, the middleware shared with the APIs.
  Templates therefore contain no inline script or style. `HEADERS` are the console's, for
  the few responses written where that middleware does not reach.
- Every state-changing request carries the session's CSRF token, in the form field
  `csrf_token` or (htmx) the `X-CSRF-Token` header; `check_csrf` compares in constant time.
  The login form, which has no session yet, uses a double-submit cookie (`LOGIN_CSRF_COOKIE`).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.requests import Request

from muster.api.security_headers import CONSOLE_HEADERS, served_over_https
from muster.errors import Forbidden, InvalidInput

HEADERS: dict[str, str] = CONSOLE_HEADERS
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "muster_login_csrf"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 2000


class Form:
    """A parsed form body: first value of a field, or every value of a repeated one."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def get(self, name: str, default: str = "") -> str:
        """The first value of `name` (default when absent)."""
        return next((value for key, value in self._pairs if key == name), default)

    def all(self, name: str) -> list[str]:
        """Every value of `name`, in order."""
        return [value for key, value in self._pairs if key == name]

    def has(self, name: str) -> bool:
        """True when the form sent `name` at all."""
        return any(key == name for key, _ in self._pairs)


async def read_form(request: Request) -> Form:
    """Parse an urlencoded body (what HTML forms and htmx send); any other body is 400."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if body and content_type != FORM_TYPE:
        raise InvalidInput.field("body", f"send a form ({FORM_TYPE})", code="web.not_a_form")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput.field("body", "is not a valid form", code="web.not_a_form") from None
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise InvalidInput.field("body", "must not contain NUL characters")
    return Form(pairs)


def check_csrf(expected: str, request: Request, form: Form) -> None:
    """Refuse (403) a request whose header or form token is not `expected`."""
    presented = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not expected or not presented or not hmac.compare_digest(presented, expected):
        raise Forbidden(
            "the form has expired or did not come from this site; reload the page and retry",
            code="web.csrf",
        )


def cookie_is_secure(request: Request, public_url: str) -> bool:
    """Mark cookies Secure when the browser talks https (directly or per `public_url`)."""
    return served_over_https(request.url.scheme, public_url)
