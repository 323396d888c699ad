"""Tenant administration (system scope: tenants are the scope, not scoped)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.audit.changes import diff, tenant_action
from muster.errors import Conflict, InvalidInput, NotFound
from muster.grouping.service import seed_defaults
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.models import Tenant
from muster.sla.policy import SETTINGS_KEY as SLA_POLICY
from muster.sla.policy import SlaPolicyDocument
from muster.tenants.intake import check_settings
from muster.tenants.schemas import TenantCreate, TenantFlags, TenantRead, TenantUpdate


def create_tenant(
    session: Session, data: TenantCreate, now: datetime, *, actor: Actor = SYSTEM
) -> Tenant:
    """Create a tenant with the default grouping rules; audited in its own log."""
    if session.scalar(select(Tenant.id).where(Tenant.name == data.name)) is not None:
        raise Conflict(f"a tenant named {data.name!r} exists", code="tenant.name_taken")
    tenant = Tenant(
        id=uuid.uuid4(),
        name=data.name,
        settings=check_settings(session, _checked_settings(data.settings), None),
        created_at=now,
        updated_at=now,
    )
    _apply_flags(tenant, data.flags)
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a tenant named {data.name!r} exists", code="tenant.name_taken") from None
    seed_defaults(session, tenant.id, now)
    session.flush()
    audit.record(
        session,
        tenant.id,
        "tenant",
        tenant.id,
        "tenant.created",
        actor,
        now,
        changes=_audited(tenant),
    )
    return tenant


def list_tenants(session: Session, only: uuid.UUID | None = None) -> list[Tenant]:
    """Every tenant (or just `only`), by name."""
    stmt = select(Tenant).order_by(Tenant.name)
    if only is not None:
        stmt = stmt.where(Tenant.id == only)
    return list(session.scalars(stmt))


def get_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant:
    """The tenant, or NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


def update_tenant(
    session: Session,
    tenant_id: uuid.UUID,
    data: TenantUpdate,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
) -> Tenant:
    """Rename, change flags (suspend, evaluation, demo, dev) or settings (SLA policy and
    e-mail intake checked: `muster.sla.policy`, `muster.tenants.intake`); a change is audited
    (`tenant.suspended`, `tenant.resumed` or `tenant.updated`)."""
    tenant = get_tenant(session, tenant_id)
    before = _audited(tenant)
    if data.name is not None:
        tenant.name = data.name
    if data.flags is not None:
        _apply_flags(tenant, data.flags)
    if data.settings is not None:
        tenant.settings = check_settings(session, _checked_settings(data.settings), tenant_id)
    tenant.updated_at = now
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a tenant named {data.name!r} exists", code="tenant.name_taken") from None
    changes = diff(before, _audited(tenant))
    if changes:
        action = tenant_action(changes)
        audit.record(session, tenant.id, "tenant", tenant.id, action, actor, now, changes=changes)
    return tenant


def delete_tenant(
    session: Session, tenant_id: uuid.UUID, now: datetime, *, actor: Actor = SYSTEM
) -> None:
    """Remove a tenant and everything it owns, its audit log included: the deletion is
    audited in the global log."""
    tenant = get_tenant(session, tenant_id)
    audit.record(
        session, None, "tenant", tenant.id, "tenant.deleted", actor, now, changes=_audited(tenant)
    )
    session.delete(tenant)
    session.flush()


def to_read(tenant: Tenant) -> TenantRead:
    """The API view of a tenant, with its flags gathered."""
    return TenantRead(
        id=tenant.id,
        name=tenant.name,
        settings=tenant.settings,
        flags=TenantFlags(
            suspended=tenant.suspended,
            eval=tenant.eval_expires_at,
            demo=tenant.demo,
            dev=tenant.dev,
        ),
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )


def _audited(tenant: Tenant) -> dict[str, Any]:
    """What the audit log shows of a tenant: name, flags, settings."""
    return {
        "name": tenant.name,
        "suspended": tenant.suspended,
        "eval": tenant.eval_expires_at,
        "demo": tenant.demo,
        "dev": tenant.dev,
        **{f"settings.{name}": value for name, value in (tenant.settings or {}).items()},
    }


def _apply_flags(tenant: Tenant, flags: TenantFlags) -> None:
    tenant.suspended = flags.suspended or None
    tenant.eval_expires_at = flags.eval
    tenant.demo = flags.demo
    tenant.dev = flags.dev


def _checked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with their SLA policy validated and spelled out (muster.sla.policy)."""
    if settings.get(SLA_POLICY) is None:
        return {k: v for k, v in settings.items() if k != SLA_POLICY}
    try:
        policy = SlaPolicyDocument.model_validate(settings[SLA_POLICY])
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["settings", SLA_POLICY, *map(str, e["loc"])]),
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        first = errors[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", errors=errors) from None
    return {**settings, SLA_POLICY: policy.stored()}
