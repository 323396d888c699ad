"""Tenant scoping against the real database (SQLite and PostgreSQL).

A session opened with `TenantContext(B)` must not see, change or create tenant A's rows,
whatever ORM statement it runs; a session without a context must refuse to run at all.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError
from tests.factories import TenantKeys

from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.db.tenancy import TenancyViolation, tenant_id_of
from muster.ids import new_id, new_incident_hash
from muster.models import (
    Alert,
    AuditEvent,
    Comment,
    GroupingRule,
    Incident,
    Membership,
    Tenant,
    User,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@dataclass
class Seeded:
    """One row of each tenant-scoped table, owned by one tenant."""

    tenant_id: uuid.UUID
    ids: dict[type, uuid.UUID]


def incident_row(tenant_id: uuid.UUID | None = None, **over: Any) -> Incident:
    values: dict[str, Any] = dict(
        number=100_000 + next(_numbers),
        incident_hash=new_incident_hash(),
        description="Brute force",
        severity=2,
        source="EDR",
        created_at=NOW,
        updated_at=NOW,
    )
    values.update(over)
    if tenant_id is not None:
        values["tenant_id"] = tenant_id
    return Incident(**values)


def seed(db: Database, tenant: TenantKeys) -> Seeded:
    """Give `tenant` an incident, an alert, a comment, an audit event and a grouping rule."""
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        incident = incident_row()
        session.add(incident)
        session.flush()
        alert = Alert(
            incident_id=incident.id,
            dedup_key=uuid.uuid4().hex,
            rule_name="Brute force",
            source="EDR",
            hostname="ws-1",
            last_seen_at=NOW,
            created_at=NOW,
            updated_at=NOW,
            raw={"a": 1},
        )
        comment = Comment(
            incident_id=incident.id,
            author="a@x.test",
            author_name="A",
            author_type="user",
            body="looking",
            created_at=NOW,
        )
        event = AuditEvent(
            subject_type="incident",
            subject_id=incident.id,
            action="incident.created",
            actor="test",
            actor_type="system",
            created_at=NOW,
        )
        rule = GroupingRule(
            name="Same user",
            position=99,
            key_fields=["username"],
            window_seconds=3600,
            max_alerts=10,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add_all([alert, comment, event, rule])
        session.flush()
        membership = session.scalars(select(Membership)).one()
        ids = {
            Incident: incident.id,
            Alert: alert.id,
            Comment: comment.id,
            AuditEvent: event.id,
            GroupingRule: rule.id,
            Membership: membership.id,
        }
        for obj in (incident, alert, comment, event, rule, membership):
            assert obj.tenant_id == tenant.id
    return Seeded(tenant.id, ids)


@pytest.fixture()
def a(db: Database, tenant: TenantKeys) -> Seeded:
    return seed(db, tenant)


@pytest.fixture()
def b(db: Database, other_tenant: TenantKeys) -> Seeded:
    return seed(db, other_tenant)


@pytest.fixture()
def as_b(db: Database, b: Seeded) -> Iterator[Session]:
    """A read session of tenant B (rolled back: nothing it does is kept)."""
    session = db.session()
    session.info["ctx"] = TenantContext(b.tenant_id)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SCOPED = [Incident, Alert, Comment, AuditEvent, GroupingRule, Membership]


def system_get(db: Database, model: type, ident: uuid.UUID) -> Any:
    with unit_of_work(db, SystemContext()) as session:
        return session.get(model, ident)


class TestReads:
    @pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__tablename__)
    def test_another_tenants_row_is_not_found_by_id(
        self, db: Database, a: Seeded, b: Seeded, as_b: Session, model: Any
    ) -> None:
        theirs, mine = a.ids[model], b.ids[model]
        assert as_b.get(model, mine) is not None  # the session works for its own rows
        assert as_b.get(model, theirs) is None
        assert as_b.scalars(select(model).where(model.id == theirs)).first() is None
        assert as_b.scalar(select(model.id).where(model.id == theirs)) is None
        assert system_get(db, model, theirs) is not None  # the row does exist

    @pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__tablename__)
    def test_lists_and_counts_hold_only_own_rows(
        self, a: Seeded, b: Seeded, as_b: Session, model: Any
    ) -> None:
        rows = as_b.scalars(select(model)).all()
        assert rows
        assert {row.tenant_id for row in rows} == {b.tenant_id}
        assert a.ids[model] not in {row.id for row in rows}
        assert as_b.scalar(select(func.count()).select_from(model)) == len(rows)
        assert as_b.scalar(select(func.count(model.id))) == len(rows)

    def test_joins_and_aliases_are_scoped(self, a: Seeded, b: Seeded, as_b: Session) -> None:
        pairs = as_b.execute(
            select(Alert.id, Incident.id).join(Incident, Alert.incident_id == Incident.id)
        ).all()
        assert pairs == [(b.ids[Alert], b.ids[Incident])]
        other = aliased(Incident)
        assert as_b.scalar(select(other.id).where(other.id == a.ids[Incident])) is None
        outer = as_b.execute(
            select(Incident.id, Comment.id).outerjoin(
                Comment, Comment.incident_id == a.ids[Incident]
            )
        ).all()
        assert outer == [(b.ids[Incident], None)]

    def test_subqueries_are_scoped(self, a: Seeded, b: Seeded, as_b: Session) -> None:
        total = (
            select(func.count(Incident.id)).where(Incident.tenant_id == Tenant.id).scalar_subquery()
        )
        counts = dict(
            as_b.execute(
                select(Tenant.id, total).where(Tenant.id.in_([a.tenant_id, b.tenant_id]))
            ).all()
        )
        assert counts[a.tenant_id] == 0
        assert counts[b.tenant_id] == 1
        ids = as_b.scalars(
            select(Alert.id).where(
                Alert.incident_id.in_(select(Incident.id).where(Incident.id == a.ids[Incident]))
            )
        ).all()
        assert ids == []

    def test_the_cached_statement_binds_each_sessions_tenant(
        self, db: Database, a: Seeded, b: Seeded
    ) -> None:
        stmt = select(Incident.id).where(Incident.description == "Brute force")
        for _ in range(3):
            for seeded in (a, b):
                with unit_of_work(db, TenantContext(seeded.tenant_id)) as session:
                    assert session.scalars(stmt).all() == [seeded.ids[Incident]]

    def test_relationship_loads_are_scoped(
        self, db: Database, tenant: TenantKeys, a: Seeded, b: Seeded
    ) -> None:
        """A user of two tenants: each tenant's session sees only its own membership."""
        with unit_of_work(db, TenantContext(a.tenant_id)) as session:
            user = session.scalars(select(User).where(User.email == tenant.member_email)).one()
            user_id = user.id
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            session.add(Membership(user_id=user_id, role="viewer", created_at=NOW, updated_at=NOW))
        for seeded in (a, b):
            with unit_of_work(db, TenantContext(seeded.tenant_id)) as session:
                user = session.get(User, user_id)
                assert user is not None
                assert {m.tenant_id for m in user.memberships} == {seeded.tenant_id}
                membership = session.scalars(
                    select(Membership).where(Membership.user_id == user_id)
                ).one()
                assert membership.user.id == user_id
        with unit_of_work(db, SystemContext()) as session:
            user = session.get(User, user_id)
            assert user is not None
            assert {m.tenant_id for m in user.memberships} == {a.tenant_id, b.tenant_id}


class TestWrites:
    def test_orm_update_does_not_touch_other_tenants(
        self, db: Database, a: Seeded, b: Seeded
    ) -> None:
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            everything = session.execute(update(Incident).values(severity=4))
            targeted = session.execute(
                update(Incident).where(Incident.id == a.ids[Incident]).values(details="x")
            )
            assert everything.rowcount == 1
            assert targeted.rowcount == 0
        assert system_get(db, Incident, a.ids[Incident]).severity == 2
        assert system_get(db, Incident, a.ids[Incident]).details == ""
        assert system_get(db, Incident, b.ids[Incident]).severity == 4

    @pytest.mark.parametrize(
        ("model", "values"),
        [
            (Comment, {"body": "changed"}),
            (GroupingRule, {"name": "changed"}),
            (Incident, {"description": "changed", "version": 1}),
        ],
        ids=["comments", "grouping_rules", "incidents"],
    )
    def test_orm_bulk_update_by_primary_key_does_not_touch_other_tenants(
        self, db: Database, a: Seeded, b: Seeded, model: Any, values: dict[str, Any]
    ) -> None:
        """`session.execute(update(Model), [rows])`: refused, or a no-op for A's row."""
        field = next(iter(values))
        before = getattr(system_get(db, model, a.ids[model]), field)
        try:
            with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
                session.execute(update(model), [{"id": a.ids[model], **values}])
        except (TenancyViolation, StaleDataError):
            pass
        assert getattr(system_get(db, model, a.ids[model]), field) == before

    @pytest.mark.parametrize(
        "model", [Comment, AuditEvent, GroupingRule, Alert], ids=lambda m: m.__tablename__
    )
    def test_orm_delete_does_not_touch_other_tenants(
        self, db: Database, a: Seeded, b: Seeded, model: Any
    ) -> None:
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            targeted = session.execute(delete(model).where(model.id == a.ids[model]))
            assert targeted.rowcount == 0
            session.execute(delete(model))
        assert system_get(db, model, a.ids[model]) is not None
        assert system_get(db, model, b.ids[model]) is None

    def test_session_delete_of_own_rows_only(self, db: Database, a: Seeded, b: Seeded) -> None:
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            for incident in session.scalars(select(Incident)):
                session.delete(incident)
        assert system_get(db, Incident, a.ids[Incident]) is not None
        assert system_get(db, Incident, b.ids[Incident]) is None

    def test_a_new_row_is_stamped_with_the_sessions_tenant(self, db: Database, b: Seeded) -> None:
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            incident = incident_row()
            session.add(incident)
        assert system_get(db, Incident, incident.id).tenant_id == b.tenant_id

    @pytest.mark.parametrize("model", ["incident", "comment", "membership"])
    def test_adding_a_row_of_another_tenant_is_refused(
        self, db: Database, tenant: TenantKeys, a: Seeded, b: Seeded, model: str
    ) -> None:
        make = {
            "incident": lambda: incident_row(a.tenant_id, id=new_id()),
            "comment": lambda: Comment(
                id=new_id(),
                tenant_id=a.tenant_id,
                incident_id=a.ids[Incident],
                author="x",
                author_name="x",
                author_type="user",
                body="injected",
                created_at=NOW,
            ),
            "membership": lambda: Membership(
                id=new_id(),
                tenant_id=a.tenant_id,
                user_id=new_id(),
                role="tenant_admin",
                created_at=NOW,
                updated_at=NOW,
            ),
        }[model]
        row = make()
        with (
            pytest.raises(TenancyViolation),
            unit_of_work(db, TenantContext(b.tenant_id), write=True) as session,
        ):
            session.add(row)
            session.flush()
        assert system_get(db, type(row), row.id) is None

    def test_moving_a_row_to_another_tenant_is_refused(
        self, db: Database, a: Seeded, b: Seeded
    ) -> None:
        with (
            pytest.raises(TenancyViolation),
            unit_of_work(db, TenantContext(b.tenant_id), write=True) as session,
        ):
            incident = session.get(Incident, b.ids[Incident])
            assert incident is not None
            incident.tenant_id = a.tenant_id
            session.flush()
        assert system_get(db, Incident, b.ids[Incident]).tenant_id == b.tenant_id

    def test_bulk_insert_for_another_tenant_is_refused(
        self, db: Database, a: Seeded, b: Seeded
    ) -> None:
        """ORM-enabled `insert(Model)` with rows naming another tenant (the repositories' path)."""
        row_id = new_id()
        with (
            pytest.raises(TenancyViolation),
            unit_of_work(db, TenantContext(b.tenant_id), write=True) as session,
        ):
            session.execute(
                insert(AuditEvent),
                [
                    {
                        "id": new_id(),
                        "tenant_id": b.tenant_id,
                        "subject_type": "incident",
                        "subject_id": b.ids[Incident],
                        "action": "x",
                        "actor": "t",
                        "actor_type": "system",
                        "changes": {},
                        "created_at": NOW,
                    },
                    {
                        "id": row_id,
                        "tenant_id": a.tenant_id,
                        "subject_type": "incident",
                        "subject_id": a.ids[Incident],
                        "action": "x",
                        "actor": "t",
                        "actor_type": "system",
                        "changes": {},
                        "created_at": NOW,
                    },
                ],
            )
        assert system_get(db, AuditEvent, row_id) is None

    def test_bulk_insert_for_own_tenant_works(self, db: Database, b: Seeded) -> None:
        row_id = new_id()
        with unit_of_work(db, TenantContext(b.tenant_id), write=True) as session:
            session.execute(
                insert(AuditEvent),
                [
                    {
                        "id": row_id,
                        "tenant_id": b.tenant_id,
                        "subject_type": "incident",
                        "subject_id": b.ids[Incident],
                        "action": "x",
                        "actor": "t",
                        "actor_type": "system",
                        "changes": {},
                        "created_at": NOW,
                    }
                ],
            )
        assert system_get(db, AuditEvent, row_id).tenant_id == b.tenant_id


class TestContext:
    def test_a_session_without_context_cannot_read(self, db: Database) -> None:
        session = db.session()
        try:
            for model in (Incident, User, Tenant):
                with pytest.raises(TenancyViolation):
                    session.execute(select(model).limit(1))
        finally:
            session.close()

    def test_a_session_without_context_cannot_write(self, db: Database) -> None:
        session = db.session()
        try:
            session.add(incident_row(new_id()))
            with pytest.raises(TenancyViolation):
                session.flush()
        finally:
            session.rollback()
            session.close()

    def test_a_session_with_a_bogus_context_is_refused(self, db: Database) -> None:
        session = db.session()
        session.info["ctx"] = "tenant-a"
        try:
            with pytest.raises(TenancyViolation):
                session.execute(select(Incident).limit(1))
        finally:
            session.close()

    def test_a_system_session_sees_every_tenant(self, db: Database, a: Seeded, b: Seeded) -> None:
        with unit_of_work(db, SystemContext()) as session:
            for model in SCOPED:
                found = set(
                    session.scalars(
                        select(model.tenant_id).where(model.id.in_([a.ids[model], b.ids[model]]))
                    )
                )
                assert found == {a.tenant_id, b.tenant_id}
            with pytest.raises(TenancyViolation):
                tenant_id_of(session)

    def test_tenant_id_of_a_tenant_session(self, db: Database, b: Seeded) -> None:
        with unit_of_work(db, TenantContext(b.tenant_id)) as session:
            assert tenant_id_of(session) == b.tenant_id
