"""Authentication of API keys and resolution of the tenant a request acts in."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from muster.auth import keys
from muster.auth.principal import Principal, TenantState
from muster.errors import InvalidInput, NotFound, TenantSuspended, Unauthenticated
from muster.models import ApiKey, Tenant
from muster.models.enums import Role

_KEYS: Table = ApiKey.__table__  # type: ignore[assignment]
_TENANTS: Table = Tenant.__table__  # type: ignore[assignment]
# One indexed lookup per request: the key and, for tenant keys, whether its tenant is open.
_BY_PREFIX = (
    select(
        _KEYS.c.id,
        _KEYS.c.name,
        _KEYS.c.role,
        _KEYS.c.tenant_id,
        _KEYS.c.key_hash,
        _TENANTS.c.suspended,
        _TENANTS.c.eval_expires_at,
    )
    .select_from(_KEYS.outerjoin(_TENANTS, _TENANTS.c.id == _KEYS.c.tenant_id))
    .where(_KEYS.c.prefix == bindparam("prefix"), _KEYS.c.revoked_at.is_(None))
)
_TENANT_STATE = select(_TENANTS.c.suspended, _TENANTS.c.eval_expires_at).where(
    _TENANTS.c.id == bindparam("tenant_id")
)


def authenticate(session: Session, presented: str, requested_tenant: str | None) -> Principal:
    """Return the principal for a presented key; raise `Unauthenticated` for anything else.

    For a global key that names a tenant (`X-Muster-Tenant`), that tenant's state is read in
    the same session so `resolve_tenant` needs no further query.
    """
    prefix = keys.prefix_of(presented)
    if prefix is None:
        raise Unauthenticated("the API key is malformed")
    conn = session.connection()
    row = conn.execute(_BY_PREFIX, {"prefix": prefix}).first()
    if row is None or not keys.matches(presented, row.key_hash):
        raise Unauthenticated("the API key is not valid")
    tenant_id: uuid.UUID | None = row.tenant_id
    state = TenantState(row.suspended, row.eval_expires_at) if tenant_id else None
    if tenant_id is None and requested_tenant:
        tenant_id = _parse_tenant(requested_tenant)
        found = conn.execute(_TENANT_STATE, {"tenant_id": tenant_id}).first()
        state = TenantState(found.suspended, found.eval_expires_at) if found else None
    return Principal(
        row.id,
        row.name,
        Role(row.role),
        row.tenant_id,
        TenantState(state.suspended, state.eval_expires_at, tenant_id)
        if state and tenant_id
        else None,
    )


def resolve_tenant(
    principal: Principal, requested: str | None, now: datetime, *, writing: bool
) -> uuid.UUID:
    """Return the tenant the request acts in, refusing suspended or expired tenants.

    A tenant key acts in its own tenant. A global key names one with the `X-Muster-Tenant`
    header. A suspended (or expired evaluation) tenant is refused to its own keys, and to
    everyone for writes such as ingestion.
    """
    if principal.tenant_id is not None:
        if requested and requested.strip().lower() != str(principal.tenant_id):
            raise NotFound("tenant", requested)
    elif not requested:
        raise InvalidInput.field(
            "X-Muster-Tenant",
            "a global key must name the tenant it acts in",
            code="tenant.required",
        )
    state = principal.acting
    if state is None or state.tenant_id is None:
        raise NotFound("tenant", requested or principal.tenant_id)
    reason = suspension_reason(state.suspended, state.eval_expires_at, now)
    if reason and (writing or not principal.is_global):
        raise TenantSuspended(f"tenant is suspended: {reason}")
    return state.tenant_id


def _parse_tenant(requested: str) -> uuid.UUID:
    try:
        return uuid.UUID(requested.strip())
    except ValueError:
        raise NotFound("tenant", requested) from None


def suspension_reason(
    suspended: str | None, eval_expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a tenant is closed, or None when it is open."""
    if suspended:
        return suspended
    if eval_expires_at is not None and eval_expires_at <= now:
        return f"evaluation expired on {eval_expires_at.date().isoformat()}"
    return None
