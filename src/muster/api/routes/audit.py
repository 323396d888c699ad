"""`/api/v1/audit`: the administration audit log (tenant admins and global admins).

A tenant admin reads their own tenant's log. A global admin names a tenant with `tenantId`
(or `X-Muster-Tenant`) to read its log, or names none to read the global log: global API keys,
deleted tenants and console lockouts. Changes to incidents are not here: each incident's
timeline holds them (`GET /incidents/{id}/timeline`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from muster.api.deps import TenantHeader, principal, services
from muster.audit.schemas import AuditEventRead, AuditPage, AuditSubject
from muster.audit.service import AuditQuery, list_events
from muster.auth.principal import Principal
from muster.auth.service import resolve_tenant
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.errors import InvalidInput, NotFound
from muster.models import Tenant
from muster.models.enums import Role

router = APIRouter(prefix="/audit", tags=["audit"])


def _tenant_of(who: Principal, tenant_id: uuid.UUID | None, header: str | None) -> uuid.UUID | None:
    """The tenant whose log is asked for (None: the global log, for global admins)."""
    if tenant_id is not None and header and header.strip().lower() != str(tenant_id):
        raise InvalidInput.field("tenantId", "names another tenant than X-Muster-Tenant")
    wanted = str(tenant_id) if tenant_id is not None else header
    if who.is_global:
        if not wanted:
            return None
        try:
            return uuid.UUID(wanted.strip())
        except ValueError:
            raise NotFound("tenant", wanted) from None
    if wanted and wanted.strip().lower() != str(who.tenant_id):
        raise NotFound("tenant", wanted)
    return who.tenant_id


@router.get(
    "",
    response_model=AuditPage,
    summary="Administration events, newest first (keyset paging)",
    description="Needs the tenant_admin role. Who created, changed or deleted tenants, "
    "members, API keys, grouping rules, playbooks, webhooks and the SLA policy, and console "
    "lockouts; `changes` holds `[before, after]` pairs (or the values at creation or "
    "deletion) and never a secret. A global admin reads a tenant's log with `tenantId`, or "
    "without it the global log (global API keys, deleted tenants, lockouts).",
)
def list_(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    tenant_id: Annotated[uuid.UUID | None, Query(alias="tenantId")] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["apikey.created"])] = None,
    subject_type: Annotated[AuditSubject | None, Query(alias="subjectType")] = None,
    subject_id: Annotated[uuid.UUID | None, Query(alias="subjectId")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    x_muster_tenant: TenantHeader = None,
) -> AuditPage:
    who.require(Role.TENANT_ADMIN)
    svc = services(request)
    target = _tenant_of(who, tenant_id, x_muster_tenant)
    if not who.is_global:  # a suspended tenant's own keys are refused, as everywhere
        resolve_tenant(who, None, svc.clock.now(), writing=False)
    query = AuditQuery(action, subject_type.value if subject_type else None, subject_id)
    ctx = SystemContext() if target is None else TenantContext(target)
    with unit_of_work(svc.db, ctx) as session:
        if target is not None and session.get(Tenant, target) is None:
            raise NotFound("tenant", target)
        rows, next_cursor = list_events(session, target, query, limit, cursor)
        items = [AuditEventRead.model_validate(row) for row in rows]
    return AuditPage(items=items, next_cursor=next_cursor)
