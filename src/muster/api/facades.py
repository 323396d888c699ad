"""The compatible APIs mounted beside the native one, each with its own error format.

| prefix | sub-application | errors |
|---|---|---|
| `/api/beta/partners` | ContraForce partner API (beta) | `{message, isSuccess: false}` |
| `/api/v2` | ContraForce v2 API | RFC 7807 with ContraForce's codes |
| `/subscriptions` | Microsoft Sentinel incidents API | `{error: {code, message}}` |

Failures raised before routing (a body over the size limit) or by the main app's router (a
path no mount's pattern takes, such as one holding a newline) are rendered in the format of
the API the path belongs to (`render_for`, `render_by_path`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from muster.api.deps import Services
from muster.api.problems import ErrorInfo, Render, render_problem
from muster.compat.contraforce import create_beta_app, create_v2_app
from muster.compat.contraforce.errors import render_beta, render_v2
from muster.compat.sentinel.app import create_app as create_sentinel_app
from muster.compat.sentinel.errors import render_cloud_error


@dataclass(frozen=True, slots=True)
class Facade:
    """One compatible API: where it lives, how it is built, how its errors look."""

    prefix: str
    build: Callable[[Services], FastAPI]
    render: Render


FACADES: tuple[Facade, ...] = (
    Facade("/api/beta/partners", create_beta_app, render_beta),
    Facade("/api/v2", create_v2_app, render_v2),
    Facade("/subscriptions", create_sentinel_app, render_cloud_error),
)


def mount_facades(app: FastAPI, services: Services) -> None:
    """Mount every compatible API on `app`, sharing its services."""
    for facade in FACADES:
        app.mount(facade.prefix, facade.build(services))


def render_for(path: str) -> Render:
    """The error format of the API `path` belongs to (muster's problem+json by default)."""
    for facade in FACADES:
        if path == facade.prefix or path.startswith(facade.prefix + "/"):
            return facade.render
    return render_problem


def render_by_path(info: ErrorInfo) -> Response:
    """Render a failure in the format of the API its path (`instance`) belongs to."""
    return render_for(info.instance)(info)


class BareMountPaths:
    """Serve a mount's bare prefix (`/api/beta/partners`, ContraForce's documented welcome
    route) as its root (`/api/beta/partners/`) instead of redirecting the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bare = {facade.prefix for facade in FACADES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in self.bare:
            scope = {**scope, "path": scope["path"] + "/", "raw_path": None}
        await self.app(scope, receive, send)
