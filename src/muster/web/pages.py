"""Rendering: the Jinja2 environment (autoescape always on), pages, error pages, redirects.

Templates receive data only; nothing is marked safe. Links are built from the mount point
(`base`, e.g. `/ui`), so the console works wherever it is mounted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from muster.web.deps import Viewer
from muster.web.security import HEADERS
from muster.web.views_incident import shown

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = shown
    env.filters["iso"] = lambda value: value.isoformat() if isinstance(value, datetime) else ""
    return env


templates = Jinja2Templates(env=_environment())


def base_of(request: Request) -> str:
    """Where the console is mounted (`/ui`)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(
    request: Request,
    name: str,
    who: Viewer | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a template with what every page needs (who, their tenants, the CSRF token)."""
    settings = request.app.state.services.settings
    response = templates.TemplateResponse(
        request,
        name,
        {
            "base": base_of(request),
            "who": who,
            "csrf_token": who.csrf_token if who else context.pop("csrf_token", ""),
            "refresh": f"{settings.ui_refresh_seconds:g}s",
            **context,
        },
        status_code=status,
        headers=headers,
    )
    return response


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    """An HTML error page (with the security headers even where middleware is bypassed);
    the nav shows the user when the session was already known."""
    who: Viewer | None = getattr(request.state, "web_viewer", None)
    response = templates.TemplateResponse(
        request,
        "error.html",
        {
            "base": base_of(request),
            "who": who,
            "csrf_token": who.csrf_token if who else "",
            "status": status,
            "title": title,
            "detail": detail,
        },
        status_code=status,
    )
    response.headers.update(HEADERS)
    return response


def safe_next(value: str | None, base: str) -> str:
    """A redirect target inside the console, or the queue: never another site."""
    default = f"{base}/queue"
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(base + "/") or "\\" in value:
        return default
    return value


def see_other(url: str) -> Response:
    """303 to `url` (after a form post, the browser GETs the result)."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> Response:
    """Send a visitor without a session to the login page (htmx: via `HX-Redirect`)."""
    base = base_of(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{base}/login"
    if request.method == "GET" and not request.headers.get("HX-Request"):
        target += f"?next={quote(here, safe='')}"
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target, **HEADERS})
    response = see_other(target)
    response.headers.update(HEADERS)
    return response
