"""Request dependencies of the web console: the logged-in user and the request's unit of work.

`viewer` authenticates the session cookie (a missing or expired session is `Unauthenticated`,
which the app turns into a redirect to the login page). Page dependencies open a unit of work
in the session's tenant — or, for a global admin's "all tenants" view, a system session —
and commit when the route returns. Write dependencies check the CSRF token before anything is
opened, so a refused request changes nothing. An incident is looked up in the acting tenant;
in the all-tenants view, in its own tenant (global admins only).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.api.deps import authenticates, services
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.errors import Forbidden, NotFound, Unauthenticated
from muster.incidents.lifecycle import Actor
from muster.models import Incident
from muster.models.enums import Role
from muster.web import sessions
from muster.web.security import Form, check_csrf, read_form
from muster.web.sessions import TenantChoice


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in user, their tenants and the tenant the console acts in (None: all)."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    global_admin: bool
    choices: tuple[TenantChoice, ...]
    acting: uuid.UUID | None
    csrf_token: str

    @property
    def actor(self) -> Actor:
        """The user as timelines and comments name them."""
        return Actor("user", f"user:{self.user_id}", self.name)

    def choice(self, tenant_id: uuid.UUID) -> TenantChoice | None:
        """The user's entry for a tenant, or None when they may not act in it."""
        return next((c for c in self.choices if c.id == tenant_id), None)

    def role_in(self, tenant_id: uuid.UUID) -> Role:
        """The user's role in a tenant (global admins hold theirs everywhere)."""
        if self.global_admin:
            return Role.GLOBAL_ADMIN
        found = self.choice(tenant_id)
        if found is None:
            raise NotFound("tenant", tenant_id)
        return Role(found.role)


@dataclass(frozen=True, slots=True)
class WebCtx:
    """What a page needs: who, the unit of work, its tenant (None: every tenant), the time
    and, for writes, the submitted form."""

    viewer: Viewer
    session: Session
    tenant_id: uuid.UUID | None
    now: datetime
    settings: Settings
    form: Form


def _acting(
    web_session_tenant: uuid.UUID | None, global_admin: bool, choices: list[TenantChoice]
) -> uuid.UUID | None:
    """The session's tenant if the user may still act in it, else their first open one."""
    if web_session_tenant is None and global_admin:
        return None
    if any(c.id == web_session_tenant for c in choices):
        return web_session_tenant
    first = next((c for c in choices if c.closed is None), None)
    if first is None:
        raise Forbidden("none of your tenants is open", code="web.no_tenant")
    return first.id


@authenticates
def viewer(request: Request) -> Viewer:
    """The user of the session cookie; `Unauthenticated` when there is no live session."""
    token = request.cookies.get(sessions.COOKIE)
    if not token:
        raise Unauthenticated("log in to continue", code="web.login_required")
    svc = services(request)
    now = svc.clock.now()
    with unit_of_work(svc.db, SystemContext()) as session:
        found = sessions.find(session, token, now)
        if found is None:
            raise Unauthenticated("your session has ended; log in again", code="web.login_required")
        web_session, user = found
        choices = sessions.tenant_choices(session, user, now)
        stale = sessions.needs_touch(web_session, now)
        out = Viewer(
            web_session.id,
            user.id,
            user.email,
            user.name,
            user.global_admin,
            tuple(choices),
            _acting(web_session.acting_tenant_id, user.global_admin, choices),
            web_session.csrf_token,
        )
    if stale:
        idle = timedelta(minutes=svc.settings.session_idle_minutes)
        with unit_of_work(svc.db, SystemContext(), write=True) as session:
            sessions.touch(session, out.session_id, now, idle)
    request.state.web_viewer = out  # error pages still show who is logged in
    return out


ViewerDep = Annotated[Viewer, Depends(viewer)]


@contextmanager
def web_unit(
    request: Request, who: Viewer, tenant_id: uuid.UUID | None, form: Form, *, write: bool
) -> Iterator[WebCtx]:
    """A unit of work in `tenant_id` (None: every tenant, global admins reading only);
    refuses viewers' writes, closed tenants (global admins may still read) and strangers."""
    svc = services(request)
    now = svc.clock.now()
    if tenant_id is None:
        if not who.global_admin:
            raise NotFound("tenant", "all")
        if write:
            raise Forbidden("choose a tenant to change its incidents", code="web.tenant_required")
        with unit_of_work(svc.db, SystemContext()) as session:
            yield WebCtx(who, session, None, now, svc.settings, form)
        return
    role = who.role_in(tenant_id)
    if write and role.rank < Role.ANALYST.rank:
        raise Forbidden("this action needs the analyst role", code="auth.role_required")
    choice = who.choice(tenant_id)
    if choice is not None and choice.closed is not None and (write or not who.global_admin):
        raise Forbidden(f"tenant is suspended: {choice.closed}", code="tenant.suspended")
    with unit_of_work(svc.db, TenantContext(tenant_id), write=write) as session:
        yield WebCtx(who, session, tenant_id, now, svc.settings, form)


async def checked_form(request: Request, who: ViewerDep) -> Form:
    """The submitted form, once its CSRF token has been checked (403 otherwise)."""
    form = await read_form(request)
    check_csrf(who.csrf_token, request, form)
    return form


CheckedForm = Annotated[Form, Depends(checked_form)]


def _read_page(request: Request, who: ViewerDep) -> Iterator[WebCtx]:
    with web_unit(request, who, who.acting, Form(()), write=False) as ctx:
        yield ctx


def _write_page(request: Request, who: ViewerDep, form: CheckedForm) -> Iterator[WebCtx]:
    with web_unit(request, who, who.acting, form, write=True) as ctx:
        yield ctx


def incident_tenant(request: Request, who: Viewer, incident_id: uuid.UUID) -> uuid.UUID:
    """The tenant an incident page acts in: the acting one, or in the all-tenants view the
    incident's own (NotFound when there is no such incident)."""
    if who.acting is not None:
        return who.acting
    with unit_of_work(services(request).db, SystemContext()) as session:
        found = session.scalar(select(Incident.tenant_id).where(Incident.id == incident_id))
    if found is None:
        raise NotFound("incident", incident_id)
    return found


def _read_incident(request: Request, who: ViewerDep, incident_id: uuid.UUID) -> Iterator[WebCtx]:
    tenant_id = incident_tenant(request, who, incident_id)
    with web_unit(request, who, tenant_id, Form(()), write=False) as ctx:
        yield ctx


def _write_incident(
    request: Request, who: ViewerDep, form: CheckedForm, incident_id: uuid.UUID
) -> Iterator[WebCtx]:
    tenant_id = incident_tenant(request, who, incident_id)
    with web_unit(request, who, tenant_id, form, write=True) as ctx:
        yield ctx


PageCtx = Annotated[WebCtx, Depends(_read_page, scope="function")]
ActionCtx = Annotated[WebCtx, Depends(_write_page, scope="function")]
IncidentPageCtx = Annotated[WebCtx, Depends(_read_incident, scope="function")]
IncidentActionCtx = Annotated[WebCtx, Depends(_write_incident, scope="function")]
