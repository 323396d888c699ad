"""`/api/v1/tenants`: global admins manage all tenants; a tenant admin sees and edits its own."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from muster.api.deps import SystemWrite, TenantHeader
from muster.auth.service import resolve_tenant
from muster.errors import Forbidden, NotFound
from muster.models.enums import Role
from muster.tenants import service
from muster.tenants.schemas import TenantCreate, TenantRead, TenantUpdate

router = APIRouter(prefix="/tenants", tags=["tenants"])


def _visible(ctx: SystemWrite, tenant_id: uuid.UUID) -> None:
    if not ctx.principal.is_global and ctx.principal.tenant_id != tenant_id:
        raise NotFound("tenant", tenant_id)


@router.get("", response_model=list[TenantRead])
def list_(ctx: SystemWrite, x_muster_tenant: TenantHeader = None) -> list[TenantRead]:
    only = None
    if not ctx.principal.is_global:  # its own; naming another tenant is 404, as everywhere
        only = resolve_tenant(ctx.principal, x_muster_tenant, ctx.now, writing=False)
    return [service.to_read(t) for t in service.list_tenants(ctx.session, only)]


@router.post("", response_model=TenantRead, status_code=201)
def create(ctx: SystemWrite, body: TenantCreate) -> TenantRead:
    ctx.principal.require(Role.GLOBAL_ADMIN)
    return service.to_read(
        service.create_tenant(ctx.session, body, ctx.now, actor=ctx.principal.actor)
    )


@router.get("/{tenant_id}", response_model=TenantRead)
def get(ctx: SystemWrite, tenant_id: uuid.UUID) -> TenantRead:
    _visible(ctx, tenant_id)
    return service.to_read(service.get_tenant(ctx.session, tenant_id))


@router.patch(
    "/{tenant_id}",
    response_model=TenantRead,
    summary="Rename, change settings; flags (suspend, eval) need a global admin",
)
def update(ctx: SystemWrite, tenant_id: uuid.UUID, body: TenantUpdate) -> TenantRead:
    _visible(ctx, tenant_id)
    if body.flags is not None and not ctx.principal.is_global:
        raise Forbidden("only a global admin can change tenant flags", code="auth.role_required")
    tenant = service.update_tenant(ctx.session, tenant_id, body, ctx.now, actor=ctx.principal.actor)
    return service.to_read(tenant)


@router.delete("/{tenant_id}", status_code=204)
def delete(ctx: SystemWrite, tenant_id: uuid.UUID) -> Response:
    _visible(ctx, tenant_id)
    ctx.principal.require(Role.GLOBAL_ADMIN)
    service.delete_tenant(ctx.session, tenant_id, ctx.now, actor=ctx.principal.actor)
    return Response(status_code=204)
