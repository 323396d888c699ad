"""Authentication of API keys and resolution of the tenant a request acts in."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.auth import keys
from muster.auth.principal import Principal
from muster.errors import InvalidInput, NotFound, TenantSuspended, Unauthenticated
from muster.models import ApiKey, Tenant
from muster.models.enums import Role


def authenticate(session: Session, presented: str) -> Principal:
    """Return the principal for a presented key; raise `Unauthenticated` for anything else."""
    prefix = keys.prefix_of(presented)
    if prefix is None:
        raise Unauthenticated("the API key is malformed")
    row = session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.tenant_id, ApiKey.key_hash).where(
            ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)
        )
    ).first()
    if row is None or not keys.matches(presented, row.key_hash):
        raise Unauthenticated("the API key is not valid")
    return Principal(row.id, row.name, Role(row.role), row.tenant_id)


def resolve_tenant(
    session: Session,
    principal: Principal,
    requested: str | None,
    now: datetime,
    *,
    writing: bool,
) -> uuid.UUID:
    """Return the tenant the request acts in, refusing suspended or expired tenants.

    A tenant key acts in its own tenant. A global key names one with the `X-Muster-Tenant`
    header. A suspended (or expired evaluation) tenant is refused to its own keys, and to
    everyone for writes such as ingestion.
    """
    if principal.tenant_id is not None:
        tenant_id = principal.tenant_id
        if requested and requested != str(tenant_id):
            raise NotFound("tenant", requested)
    elif not requested:
        raise InvalidInput.field(
            "X-Muster-Tenant",
            "a global key must name the tenant it acts in",
            code="tenant.required",
        )
    else:
        try:
            tenant_id = uuid.UUID(requested)
        except ValueError:
            raise NotFound("tenant", requested) from None
    row = session.execute(
        select(Tenant.suspended, Tenant.eval_expires_at).where(Tenant.id == tenant_id)
    ).first()
    if row is None:
        raise NotFound("tenant", tenant_id)
    reason = suspension_reason(row.suspended, row.eval_expires_at, now)
    if reason and (writing or not principal.is_global):
        raise TenantSuspended(f"tenant is suspended: {reason}")
    return tenant_id


def suspension_reason(
    suspended: str | None, eval_expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a tenant is closed, or None when it is open."""
    if suspended:
        return suspended
    if eval_expires_at is not None and eval_expires_at <= now:
        return f"evaluation expired on {eval_expires_at.date().isoformat()}"
    return None
