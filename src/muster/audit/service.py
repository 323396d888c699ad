"""Writing and reading the administration audit log.

`record` writes one event in the caller's transaction, so an event exists exactly when its
change does. An event belongs to the tenant it changes (`audit_events`, beside the incident
timelines, which it leaves out); when there is no such tenant — a global API key, a tenant
being deleted (whose own log goes with it), a console lockout — it goes to the global log
(`global_audit_events`). Changes pass through `muster.audit.changes.redact` on the way in.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, insert, literal_column, select
from sqlalchemy.orm import Session

from muster.audit.changes import redact
from muster.db.tenancy import TenancyViolation, TenantContext, context_of
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.models import AuditEvent, GlobalAuditEvent
from muster.pagination import SortKey, apply_keyset, page

__all__ = ["AuditQuery", "list_events", "record"]

_TENANT: Table = AuditEvent.__table__  # type: ignore[assignment]
_GLOBAL: Table = GlobalAuditEvent.__table__  # type: ignore[assignment]
# what the administration log holds of a tenant's events (the partial index ix_audit_admin)
_ADMIN_ONLY = AuditEvent.subject_type != literal_column("'incident'")
TENANT_SORT = SortKey("createdAt", AuditEvent.created_at, descending=True)
GLOBAL_SORT = SortKey("createdAt", GlobalAuditEvent.created_at, descending=True)


def record(
    session: Session,
    tenant_id: uuid.UUID | None,
    subject_type: str,
    subject_id: uuid.UUID | None,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Write one administration event in the session's transaction: in `tenant_id`'s log, or
    in the global log when it is None. A tenant session may only write its own tenant's."""
    row: dict[str, Any] = {
        "id": new_id(),
        "subject_type": subject_type,
        "subject_id": subject_id,
        "action": action,
        "actor": actor.id,
        "actor_type": actor.kind,
        "changes": redact(dict(changes or {})),
        "reason": reason,
        "created_at": now,
    }
    if tenant_id is None:
        session.connection().execute(insert(_GLOBAL), [row])
        return
    ctx = context_of(session)
    if isinstance(ctx, TenantContext) and ctx.tenant_id != tenant_id:
        raise TenancyViolation("an audit event for another tenant")
    if subject_id is None:
        raise ValueError("a tenant's audit event needs a subject")
    session.connection().execute(insert(_TENANT), [{**row, "tenant_id": tenant_id}])


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Optional filters of the audit log."""

    action: str | None = None
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None


def list_events(
    session: Session,
    tenant_id: uuid.UUID | None,
    query: AuditQuery,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEvent] | list[GlobalAuditEvent], str | None]:
    """One page of a tenant's administration events (None: the global log), newest first,
    and the next page's cursor."""
    if tenant_id is None:
        stmt = apply_keyset(
            _filtered(select(GlobalAuditEvent), GlobalAuditEvent, query),
            GLOBAL_SORT,
            GlobalAuditEvent.id,
            cursor,
            limit,
        )
        return page(list(session.scalars(stmt)), GLOBAL_SORT, limit)
    scoped = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id, _ADMIN_ONLY)
    stmt = apply_keyset(
        _filtered(scoped, AuditEvent, query), TENANT_SORT, AuditEvent.id, cursor, limit
    )
    return page(list(session.scalars(stmt)), TENANT_SORT, limit)


def _filtered(
    stmt: Select[Any], model: type[AuditEvent] | type[GlobalAuditEvent], query: AuditQuery
) -> Select[Any]:
    if query.action is not None:
        stmt = stmt.where(model.action == query.action)
    if query.subject_type is not None:
        stmt = stmt.where(model.subject_type == query.subject_type)
    if query.subject_id is not None:
        stmt = stmt.where(model.subject_id == query.subject_id)
    return stmt
