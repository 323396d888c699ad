"""`muster.db.bulk.insert_rows` stores exactly what an ORM insert would, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from tests.factories import TenantKeys

from muster.db import TenantContext, unit_of_work
from muster.db.bulk import insert_rows
from muster.db.engine import Database
from muster.db.types import JSONText
from muster.ids import new_id
from muster.models import AuditEvent

# in the future: the shared server's SLA scan must not raise events on these incidents
T0 = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)


def _event(tenant_id: uuid.UUID, subject: uuid.UUID, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "tenant_id": tenant_id,
        "subject_type": "incident",
        "subject_id": subject,
        "action": "bulk.test",
        "actor": "tester",
        "actor_type": "user",
        "reason": None,
        "created_at": T0,
    }
    row.update(extra)
    return row


def test_rows_round_trip_with_types_and_defaults(db: Database, tenant: TenantKeys) -> None:
    subject = uuid.uuid4()
    plus_two = timezone(timedelta(hours=2))
    rows = [
        _event(tenant.id, subject, id=new_id(), changes={"count": 2**70, "names": ["é", "\u2603"]}),
        _event(tenant.id, subject, id=new_id(), changes=JSONText('{"pre": "serialised"}')),
        # no id and no changes: the columns' Python defaults (new_id, dict) fill them
        _event(
            tenant.id,
            subject,
            created_at=datetime(2031, 3, 2, 11, 0, tzinfo=plus_two),
            reason="x'y\"z\\",
        ),
    ]
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        insert_rows(session.connection(), AuditEvent.__table__, rows[:2])  # type: ignore[arg-type]
        insert_rows(session.connection(), AuditEvent.__table__, rows[2:])  # type: ignore[arg-type]

    with unit_of_work(db, TenantContext(tenant.id)) as session:
        stored = list(session.scalars(select(AuditEvent).where(AuditEvent.subject_id == subject)))
    assert len(stored) == 3
    by_changes = {str(sorted(event.changes)): event for event in stored}
    assert by_changes["['count', 'names']"].changes == {"count": 2**70, "names": ["é", "\u2603"]}
    assert by_changes["['pre']"].changes == {"pre": "serialised"}
    defaulted = by_changes["[]"]
    assert defaulted.changes == {}
    assert isinstance(defaulted.id, uuid.UUID)
    assert defaulted.reason == "x'y\"z\\"
    assert defaulted.created_at == T0  # 11:00 at +02:00, read back as UTC
    assert defaulted.created_at.tzinfo is not None
    assert {event.tenant_id for event in stored} == {tenant.id}


def test_unknown_column_is_refused_before_anything_is_written(
    db: Database, tenant: TenantKeys
) -> None:
    subject = uuid.uuid4()
    with (
        pytest.raises(ValueError, match="no column 'colour'"),
        unit_of_work(db, TenantContext(tenant.id), write=True) as session,
    ):
        insert_rows(
            session.connection(),
            AuditEvent.__table__,  # type: ignore[arg-type]
            [_event(tenant.id, subject, colour="red")],
        )
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.subject_id == subject)).all() == []
        )
