"""Request dependencies: who is calling, which tenant, and the request's unit of work.

The request owns the transaction: `*_session` dependencies open a unit of work scoped to the
caller's tenant and commit when the route function returns, before the response is sent
(`scope="function"`), so an acknowledged write is a committed write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from muster import jsontext
from muster.alerts.combiner import IngestCombiner
from muster.auth.cache import PrincipalCache
from muster.auth.principal import Principal
from muster.auth.service import authenticate, resolve_tenant
from muster.clock import Clock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import InvalidInput, Unauthenticated
from muster.models.enums import Role


@dataclass(frozen=True, slots=True)
class Services:
    """What the app was built with; one per process."""

    settings: Settings
    db: Database
    clock: Clock
    combiner: IngestCombiner
    auth_cache: PrincipalCache


def services(request: Request) -> Services:
    """The app's services."""
    svc: Services = request.app.state.services
    return svc


bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer mst_…`")
TenantHeader = Annotated[
    str | None, Header(description="the tenant a global key acts in (ignored otherwise)")
]


AUTHENTICATES = "__muster_authenticates__"
_F = TypeVar("_F", bound=Callable[..., Any])


def authenticates(dependency: _F) -> _F:
    """Mark a dependency that authenticates the caller; the route audit
    (tests/tenancy/test_audit.py) requires one on every route that is not public."""
    setattr(dependency, AUTHENTICATES, True)
    return dependency


@authenticates
async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_muster_tenant: TenantHeader = None,
) -> Principal:
    """Authenticate `Authorization: Bearer <key>` (and read the state of the acting tenant)."""
    if credentials is None or not credentials.credentials.strip():
        raise Unauthenticated("send an API key: Authorization: Bearer <key>")
    return await principal_for(request, credentials.credentials.strip(), x_muster_tenant)


async def principal_for(request: Request, token: str, tenant: str | None) -> Principal:
    """Authenticate an API key (however it was presented) for acting in `tenant` (a tenant id
    or None); cached for `auth_cache_seconds`. Raises `Unauthenticated`."""
    svc = services(request)
    found = svc.auth_cache.get(token, tenant)
    if found is None:
        found = await run_in_threadpool(_authenticate, svc.db, token, tenant)
        svc.auth_cache.put(token, tenant, found)
    return found


def _authenticate(db: Database, token: str, tenant: str | None) -> Principal:
    with unit_of_work(db, SystemContext()) as session:
        return authenticate(session, token, tenant)


@dataclass(frozen=True, slots=True)
class Ctx:
    """Everything a tenant route needs: caller, tenant, session and the request's `now`."""

    principal: Principal
    tenant_id: uuid.UUID
    session: Session
    now: datetime
    settings: Settings


@contextmanager
def tenant_unit(
    request: Request, who: Principal, tenant: str | None, role: Role, *, write: bool
) -> Iterator[Ctx]:
    """The request's unit of work in `tenant` (a tenant key's own when None): refuses a role
    below `role`, another tenant's id (NotFound) and closed tenants; commits on exit."""
    who.require(role)
    svc = services(request)
    now = svc.clock.now()
    tenant_id = resolve_tenant(who, tenant, now, writing=write)
    with unit_of_work(svc.db, TenantContext(tenant_id), write=write) as session:
        yield Ctx(who, tenant_id, session, now, svc.settings)


def _tenant_session(role: Role, write: bool) -> Any:
    def dependency(
        request: Request,
        who: Annotated[Principal, Depends(principal)],
        x_muster_tenant: TenantHeader = None,
    ) -> Iterator[Ctx]:
        with tenant_unit(request, who, x_muster_tenant, role, write=write) as ctx:
            yield ctx

    return dependency


ReadCtx = Annotated[Ctx, Depends(_tenant_session(Role.VIEWER, False), scope="function")]
WriteCtx = Annotated[Ctx, Depends(_tenant_session(Role.ANALYST, True), scope="function")]
AdminCtx = Annotated[Ctx, Depends(_tenant_session(Role.TENANT_ADMIN, True), scope="function")]


@dataclass(frozen=True, slots=True)
class SystemCtx:
    """A system-scope session for tenant administration; routes check the principal."""

    principal: Principal
    session: Session
    now: datetime
    settings: Settings


@contextmanager
def system_unit(
    request: Request, who: Principal, *, write: bool, role: Role = Role.VIEWER
) -> Iterator[SystemCtx]:
    """A unit of work over every tenant; the route restricts what it reads to the tenants
    `who` may see. A tenant key's own tenant must be open; commits on exit."""
    who.require(role)
    svc = services(request)
    now = svc.clock.now()
    if not who.is_global:  # a suspended tenant's own keys are refused here too
        resolve_tenant(who, None, now, writing=False)
    with unit_of_work(svc.db, SystemContext(), write=write) as session:
        yield SystemCtx(who, session, now, svc.settings)


def _system_session(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> Iterator[SystemCtx]:
    with system_unit(request, who, write=True, role=Role.TENANT_ADMIN) as ctx:
        yield ctx
    if request.method != "GET":  # keys or tenants may have changed: re-authenticate
        services(request).auth_cache.clear()


SystemWrite = Annotated[SystemCtx, Depends(_system_session, scope="function")]


async def refuse_nul_in_url(request: Request) -> None:
    """Refuse NUL characters in the path or query string: no database can compare them."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidInput.field(name.replace("\x00", "\\0"), "must not contain NUL characters")
    if "\x00" in request.scope.get("path", ""):
        raise InvalidInput.field("path", "must not contain NUL characters")


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON (strict UTF-8, bounded nesting, exact integers)."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput.field("body", "is empty; send JSON", code="request.malformed_json")
    try:
        return jsontext.loads(raw)
    except jsontext.JSONTextError as exc:
        raise InvalidInput.field(
            "body", f"is not valid JSON: {exc}", code="request.malformed_json"
        ) from None


def if_match_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names (`"7"`, `W/"7"`, `7`); None for absent or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    cleaned = if_match.strip().removeprefix("W/").strip('"')
    if not (cleaned.isascii() and cleaned.isdigit()):  # int() refuses "²"
        raise InvalidInput.field("If-Match", 'must be an ETag from this API, e.g. "3"')
    return int(cleaned)
