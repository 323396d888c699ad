"""Timeline events are written with their transaction: at commit, visible to a read inside it,
and gone with a rollback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from tests.factories import TenantKeys

from muster.clock import SystemClock
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import Actor
from muster.incidents.timeline import record, timeline
from muster.models import AuditEvent

ACTOR = Actor("user", "t@example.test", "tester")


def _stored(db: Database, tenant: TenantKeys, subject: uuid.UUID) -> list[str]:
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == subject)
                .order_by(AuditEvent.created_at, AuditEvent.id)
            )
        )


def test_events_commit_in_order_and_are_readable_before_the_commit(
    db: Database, tenant: TenantKeys
) -> None:
    subject, now = uuid.uuid4(), SystemClock().now()
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        record(session, subject, "first", ACTOR, now)
        record(session, subject, "second", ACTOR, now)
        assert [e.action for e in timeline(session, subject)] == ["first", "second"]
        record(session, subject, "third", ACTOR, now)
    assert _stored(db, tenant, subject) == ["first", "second", "third"]


def test_events_of_a_rolled_back_transaction_are_not_written(
    db: Database, tenant: TenantKeys
) -> None:
    subject, now = uuid.uuid4(), SystemClock().now()
    with pytest.raises(RuntimeError), unit_of_work(db, TenantContext(tenant.id), write=True) as s:
        record(s, subject, "lost", ACTOR, now)
        raise RuntimeError("the request failed")
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        record(session, subject, "kept", ACTOR, now)
    assert _stored(db, tenant, subject) == ["kept"]
