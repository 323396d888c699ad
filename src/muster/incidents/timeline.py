"""The incident timeline: audit events written next to the change they describe."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy import Table, event, select
from sqlalchemy.orm import Session

from muster.db.bulk import insert_rows
from muster.db.tenancy import tenant_id_of
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.incidents.schemas import IncidentListItem
from muster.models import AuditEvent
from muster.notify.outbox import publish

AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
_PENDING = "muster.timeline.pending"  # session.info key: events `record` has collected


def event_row(
    tenant_id: uuid.UUID,
    subject_id: uuid.UUID,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
    subject_type: str = "incident",
) -> dict[str, Any]:
    """Return one audit row ready for a bulk insert."""
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "action": action,
        "actor": actor.id,
        "actor_type": actor.kind,
        "changes": dict(changes or {}),
        "reason": reason,
        "created_at": now,
    }


def write_events(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert audit rows (they carry their tenant_id explicitly) and announce them
    (`muster.notify.outbox`: webhooks, e-mail, counters) in the same transaction."""
    if rows:
        insert_rows(session.connection(), AUDIT, rows)
        publish(session, rows)


def record(
    session: Session,
    subject_id: uuid.UUID,
    action: str,
    actor: Actor,
    now: datetime,
    *,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
    subject_type: str = "incident",
) -> None:
    """Write one audit event for the session's tenant, with the transaction's other events
    in one insert when it commits (and not at all if it rolls back)."""
    row = event_row(
        tenant_id_of(session),
        subject_id,
        action,
        actor,
        now,
        changes=changes,
        reason=reason,
        subject_type=subject_type,
    )
    session.info.setdefault(_PENDING, []).append(row)


def write_pending(session: Session) -> None:
    """Insert the events `record` has collected in this transaction (before it commits, or
    before the timeline is read inside it)."""
    rows = session.info.pop(_PENDING, None)
    if rows:
        write_events(session, rows)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def serialisable_changes(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    """`field -> [before, after]` under the names the incident API uses (`excludeFromSLA`…)."""
    fields = IncidentListItem.model_fields
    return {
        (fields[name].alias if name in fields else None) or to_camel(name): [before, after]
        for name, (before, after) in changes.items()
    }


def timeline(session: Session, incident_id: uuid.UUID) -> list[AuditEvent]:
    """Every event about the incident, oldest first."""
    write_pending(session)
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == incident_id)
            .order_by(AuditEvent.created_at, AuditEvent.id)
        )
    )
