"""`/api/v1/apikeys`: a tenant's keys; for a global key without X-Muster-Tenant, the global keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from muster.api.deps import SystemWrite, TenantHeader
from muster.auth.service import resolve_tenant
from muster.errors import Forbidden
from muster.models.enums import Role
from muster.tenants import apikeys
from muster.tenants.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead

router = APIRouter(prefix="/apikeys", tags=["api keys"])


def _scope(ctx: SystemWrite, x_muster_tenant: str | None) -> uuid.UUID | None:
    if ctx.principal.is_global and not x_muster_tenant:
        return None
    return resolve_tenant(ctx.principal, x_muster_tenant, ctx.now, writing=False)


@router.get("", response_model=list[ApiKeyRead])
def list_(ctx: SystemWrite, x_muster_tenant: TenantHeader = None) -> list[ApiKeyRead]:
    return apikeys.list_keys(ctx.session, _scope(ctx, x_muster_tenant))


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Mint a key; the plaintext `key` is returned this once",
)
def create(
    ctx: SystemWrite, body: ApiKeyCreate, x_muster_tenant: TenantHeader = None
) -> ApiKeyCreated:
    tenant_id = _scope(ctx, x_muster_tenant)
    if body.role is Role.GLOBAL_ADMIN and not ctx.principal.is_global:
        raise Forbidden("only a global admin can mint global keys", code="auth.role_required")
    return apikeys.create_key(
        ctx.session,
        name=body.name,
        role=body.role,
        tenant_id=tenant_id,
        created_by=ctx.principal.actor.id,
        now=ctx.now,
        actor=ctx.principal.actor,
    )


@router.delete("/{key_id}", response_model=ApiKeyRead, summary="Revoke a key")
def revoke(ctx: SystemWrite, key_id: uuid.UUID, x_muster_tenant: TenantHeader = None) -> ApiKeyRead:
    return apikeys.revoke_key(
        ctx.session, key_id, _scope(ctx, x_muster_tenant), ctx.now, actor=ctx.principal.actor
    )
