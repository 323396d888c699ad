"""Routes of the ContraForce beta partner API (`/api/beta/partners`): thin, read-only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from muster.api.deps import authenticates, system_unit, tenant_unit
from muster.auth.principal import Principal
from muster.compat import views
from muster.compat.contraforce import listing, objects
from muster.compat.contraforce.auth import beta_principal, beta_tenant
from muster.compat.contraforce.envelopes import beta_value
from muster.compat.contraforce.schemas import BetaAllIncidentsRequest, BetaIncidentsRequest
from muster.errors import NotFound
from muster.models import Tenant
from muster.models.enums import Role

WELCOME = "Welcome to the ContraForce API"
TenantId = Annotated[str | None, Query(alias="tenantId", description="the tenant's GUID")]

router = APIRouter()


@authenticates
async def beta_caller(request: Request, tenant_id: TenantId = None) -> Principal:
    """The caller of every beta route (`x-api-key`), for the tenant `tenantId` names."""
    given = tenant_id.strip() if tenant_id else None
    try:
        acting = str(uuid.UUID(given)) if given else None
    except ValueError:
        acting = None  # refused by `beta_tenant` after the key is checked
    return await beta_principal(request, acting)


Caller = Annotated[Principal, Depends(beta_caller)]


@router.get("/", summary="Smoke test: the welcome message (needs a valid key)")
def welcome(who: Caller) -> dict[str, Any]:
    return beta_value(None, WELCOME)


@router.post("/incidents", summary="One tenant's incidents in a time window, newest first")
def list_incidents(
    request: Request, who: Caller, body: BetaIncidentsRequest, tenant_id: TenantId = None
) -> dict[str, Any]:
    tenant = beta_tenant(tenant_id)
    with tenant_unit(request, who, tenant, Role.VIEWER, write=False) as ctx:
        return beta_value(listing.beta_list(ctx.session, body, ctx.now))


@router.post("/incidents/all", summary="Every visible tenant's incidents, newest first")
def list_all(request: Request, who: Caller, body: BetaAllIncidentsRequest) -> dict[str, Any]:
    if not who.is_global:
        if body.account_id is not None and body.account_id != who.tenant_id:
            raise NotFound("tenant", body.account_id)
        with tenant_unit(request, who, None, Role.VIEWER, write=False) as ctx:
            own = (ctx.tenant_id,)
            return beta_value(listing.beta_all(ctx.session, body, own, ctx.now))
    with system_unit(request, who, write=False) as sys:
        tenants: tuple[uuid.UUID, ...] = ()
        if body.account_id is not None:
            found = sys.session.scalar(select(Tenant.id).where(Tenant.id == body.account_id))
            if found is None:
                raise NotFound("tenant", body.account_id)
            tenants = (found,)
        return beta_value(listing.beta_all(sys.session, body, tenants, sys.now))


@router.get("/incidents/{incident_id}/details", summary="One incident")
def details(
    request: Request, who: Caller, incident_id: str, tenant_id: TenantId = None
) -> dict[str, Any]:
    tenant = beta_tenant(tenant_id)
    with tenant_unit(request, who, tenant, Role.VIEWER, write=False) as ctx:
        view = views.incident_view(ctx.session, views.parse_incident_id(incident_id))
        return beta_value(objects.beta_incident(view))


@router.get("/incidents/{incident_id}/entities", summary="The incident's entities")
def entities(
    request: Request, who: Caller, incident_id: str, tenant_id: TenantId = None
) -> dict[str, Any]:
    tenant = beta_tenant(tenant_id)
    with tenant_unit(request, who, tenant, Role.VIEWER, write=False) as ctx:
        found = views.incident_entities(ctx.session, views.parse_incident_id(incident_id))
        return beta_value([objects.beta_entity(e) for e in found])


@router.get("/incidents/{incident_id}/evidence", summary="The incident's evidence table")
def evidence(
    request: Request, who: Caller, incident_id: str, tenant_id: TenantId = None
) -> dict[str, Any]:
    tenant = beta_tenant(tenant_id)
    with tenant_unit(request, who, tenant, Role.VIEWER, write=False) as ctx:
        table = views.incident_evidence(ctx.session, views.parse_incident_id(incident_id))
        return beta_value(objects.evidence_object(table))
