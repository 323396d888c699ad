"""Admin pages: tenants (global admins), the acting tenant's members (add with a password,
change role) and API keys (mint — the plaintext shown once — and revoke), through the same
services as `/api/v1/tenants`, `/users` and `/apikeys`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from muster.api.deps import services
from muster.db import SystemContext, unit_of_work
from muster.errors import Forbidden
from muster.models.enums import Role
from muster.tenants import apikeys, users
from muster.tenants import service as tenants
from muster.tenants.schemas import ApiKeyCreated
from muster.web.deps import ActionCtx, CheckedForm, PageCtx, ViewerDep
from muster.web.pages import base_of, page, see_other
from muster.web.views_access import chosen_tenant, require_role
from muster.web.views_admin import (
    MEMBER_ROLES,
    key_create,
    member_create,
    role_change,
    tenant_create,
)

router = APIRouter(prefix="/admin")


@contextmanager
def _system(request: Request, who: ViewerDep, *, write: bool) -> Iterator[Session]:
    """A system unit of work for key and tenant tables, once the user is an admin of the
    acting tenant (or a global admin in the all-tenants view)."""
    if who.acting is None:
        require_role(who, None, Role.GLOBAL_ADMIN)
    else:
        require_role(who, who.acting, Role.TENANT_ADMIN)
        choice = who.choice(who.acting)
        if write and choice is not None and choice.closed is not None:
            raise Forbidden(f"tenant is suspended: {choice.closed}", code="tenant.suspended")
    with unit_of_work(services(request).db, SystemContext(), write=write) as session:
        yield session
    if write:  # keys may have changed: the API authenticates afresh
        services(request).auth_cache.clear()


@router.get("/tenants")
def tenant_list(request: Request, who: ViewerDep) -> Response:
    """Every tenant (global admins only)."""
    require_role(who, None, Role.GLOBAL_ADMIN)
    with unit_of_work(services(request).db, SystemContext()) as session:
        rows = [tenants.to_read(t) for t in tenants.list_tenants(session)]
    return page(request, "admin_tenants.html", who, tenants=rows)


@router.post("/tenants")
def tenant_add(request: Request, who: ViewerDep, form: CheckedForm) -> Response:
    """Create a tenant with the default grouping rules (global admins only)."""
    require_role(who, None, Role.GLOBAL_ADMIN)
    data = tenant_create(form)
    svc = services(request)
    with unit_of_work(svc.db, SystemContext(), write=True) as session:
        tenants.create_tenant(session, data, svc.clock.now(), actor=who.actor)
    svc.auth_cache.clear()
    return see_other(f"{base_of(request)}/admin/tenants")


@router.get("/users")
def user_list(request: Request, ctx: PageCtx) -> Response:
    """The acting tenant's members with their roles (tenant admins)."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "members"), Role.TENANT_ADMIN)
    return page(
        request,
        "admin_users.html",
        ctx.viewer,
        members=users.list_users(ctx.session),
        roles=MEMBER_ROLES,
    )


@router.post("/users")
def user_add(request: Request, ctx: ActionCtx) -> Response:
    """Add a member (with a password when given) to the acting tenant."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "members"), Role.TENANT_ADMIN)
    users.create_user(
        ctx.session,
        member_create(ctx.form),
        ctx.now,
        by_global=ctx.viewer.global_admin,
        actor=ctx.viewer.actor,
    )
    return see_other(f"{base_of(request)}/admin/users")


@router.post("/users/{user_id}/role")
def user_role(request: Request, ctx: ActionCtx, user_id: uuid.UUID) -> Response:
    """Change a member's role in the acting tenant."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "members"), Role.TENANT_ADMIN)
    users.update_user(
        ctx.session,
        user_id,
        role_change(ctx.form),
        ctx.now,
        by_global=ctx.viewer.global_admin,
        actor=ctx.viewer.actor,
    )
    return see_other(f"{base_of(request)}/admin/users")


def _keys_page(
    request: Request, who: ViewerDep, session: Session, minted: ApiKeyCreated | None = None
) -> Response:
    return page(
        request,
        "admin_apikeys.html",
        who,
        keys=apikeys.list_keys(session, who.acting),
        minted=minted,
        roles=MEMBER_ROLES if who.acting is not None else (Role.GLOBAL_ADMIN,),
        global_keys=who.acting is None,
    )


@router.get("/apikeys")
def key_list(request: Request, who: ViewerDep) -> Response:
    """The acting tenant's keys (the global keys in the all-tenants view)."""
    with _system(request, who, write=False) as session:
        return _keys_page(request, who, session)


@router.post("/apikeys")
def key_mint(request: Request, who: ViewerDep, form: CheckedForm) -> Response:
    """Mint a key; the page shows its plaintext, clientId and clientSecret this once."""
    data = key_create(form, who.acting is not None)
    if data.role is Role.GLOBAL_ADMIN and not who.global_admin:
        raise Forbidden("only a global admin can mint global keys", code="auth.role_required")
    with _system(request, who, write=True) as session:
        minted = apikeys.create_key(
            session,
            name=data.name,
            role=data.role,
            tenant_id=who.acting,
            created_by=who.actor.id,
            now=services(request).clock.now(),
            actor=who.actor,
        )
    with _system(request, who, write=False) as session:
        return _keys_page(request, who, session, minted)


@router.post("/apikeys/{key_id}/revoke")
def key_revoke(request: Request, who: ViewerDep, form: CheckedForm, key_id: uuid.UUID) -> Response:
    """Revoke a key of the acting tenant (another tenant's key: 404)."""
    with _system(request, who, write=True) as session:
        apikeys.revoke_key(
            session, key_id, who.acting, services(request).clock.now(), actor=who.actor
        )
    return see_other(f"{base_of(request)}/admin/apikeys")
