"""`muster.alerts.ingest.ingest` against the real database, with time under test control.

Each test owns a fresh tenant (default grouping rules: source + ruleName + hostname within
24h first), calls `ingest` inside its own unit of work, and moves a `FrozenClock`.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from tests.factories import TenantKeys, alert

from muster.alerts.ingest import IngestReport, ingest
from muster.clock import FrozenClock
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import DomainError, InvalidInput
from muster.grouping.schemas import GroupingRuleCreate
from muster.grouping.service import create_rule
from muster.ids import HASH_ALPHABET
from muster.incidents.lifecycle import Actor
from muster.models import Alert, AuditEvent, Incident, Tenant

# in the future: the shared server's SLA scan must not raise events on these incidents
T0 = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = Actor("apikey", "test-key", "service tests")
HASH_RE = re.compile(rf"^[{HASH_ALPHABET}]{{4}}-[{HASH_ALPHABET}]{{4}}$")


@pytest.fixture()
def clock() -> FrozenClock:
    return FrozenClock(T0)


def send(
    db: Database, tenant_id: uuid.UUID, clock: FrozenClock, *alerts: dict[str, Any]
) -> IngestReport:
    """One batch in one transaction, as the API sends it."""
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        return ingest(session, list(alerts), ACTOR, clock.now())


def incidents_of(db: Database, tenant_id: uuid.UUID) -> list[Incident]:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return list(session.scalars(select(Incident).order_by(Incident.number)))


def footprint(db: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    """Row counts of everything ingest writes for a tenant, and its incident sequence."""
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Alert, Incident, AuditEvent)
        }
    with unit_of_work(db, SystemContext()) as session:
        counts["incident_seq"] = session.scalar(
            select(Tenant.incident_seq).where(Tenant.id == tenant_id)
        )
    return counts


def host_alert(host: str = "ws-0142.corp.example", **over: Any) -> dict[str, Any]:
    """An alert only the default host rule keys on (no username/srcIp to confuse it)."""
    return alert(hostname=host, username=None, srcIp=None, **over)


class TestWindowOverTime:
    def test_an_alert_joins_within_the_window_and_opens_after_it(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        first = send(db, tenant.id, clock, host_alert()).items[0]
        clock.advance(timedelta(hours=23, minutes=59))
        inside = send(db, tenant.id, clock, host_alert()).items[0]
        clock.advance(timedelta(minutes=1))
        at_edge = send(db, tenant.id, clock, host_alert()).items[0]
        clock.advance(timedelta(seconds=1))
        outside = send(db, tenant.id, clock, host_alert()).items[0]

        assert inside.incident_id == first.incident_id
        assert at_edge.incident_id == first.incident_id
        assert outside.incident_id != first.incident_id
        assert outside.grouping_reason is not None
        assert outside.grouping_reason["decision"] == "opened"
        assert "within 1d" in outside.grouping_reason["detail"]
        [one, two] = incidents_of(db, tenant.id)
        assert (one.alert_count, two.alert_count) == (3, 1)
        assert one.first_alert_at == T0
        assert one.last_alert_at == T0 + timedelta(hours=24)

    def test_the_window_follows_the_event_time(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        first = send(db, tenant.id, clock, host_alert()).items[0]
        clock.advance(timedelta(days=3))
        late = send(
            db, tenant.id, clock, host_alert(createdAt=(T0 + timedelta(hours=2)).isoformat())
        ).items[0]
        current = send(db, tenant.id, clock, host_alert()).items[0]

        assert late.incident_id == first.incident_id  # reported late, happened inside
        assert current.incident_id != first.incident_id

    def test_a_resolved_incident_takes_no_more_alerts(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        first = send(db, tenant.id, clock, host_alert()).items[0]
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            session.execute(
                update(Incident)
                .where(Incident.id == first.incident_id)
                .values(status="RESOLVED", resolution="FALSE_POSITIVE", resolved_at=clock.now())
            )
        clock.advance(timedelta(minutes=5))

        after = send(db, tenant.id, clock, host_alert()).items[0]

        assert after.incident_id != first.incident_id
        assert after.grouping_reason is not None
        assert after.grouping_reason["decision"] == "opened"

    def test_grouping_not_allowed_is_respected(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        first = send(db, tenant.id, clock, host_alert()).items[0]
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            session.execute(
                update(Incident)
                .where(Incident.id == first.incident_id)
                .values(grouping_allowed=False)
            )

        after = send(db, tenant.id, clock, host_alert()).items[0]

        assert after.incident_id != first.incident_id

    def test_the_maximum_holds_within_and_across_batches(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            create_rule(
                session,
                GroupingRuleCreate(
                    name="Pairs",
                    key_fields=["ruleName"],
                    window_seconds=3600,
                    max_alerts=2,
                    position=0,
                ),
                clock.now(),
            )

        report = send(db, tenant.id, clock, *(host_alert(f"h{i}") for i in range(3)))
        clock.advance(timedelta(minutes=1))
        later = send(db, tenant.id, clock, *(host_alert(f"h{i}") for i in range(3, 6)))

        assert report.incidents_created == 2 and later.incidents_created == 1
        assert [i.alert_count for i in incidents_of(db, tenant.id)] == [2, 2, 2]
        assert {i.grouping_rule for i in incidents_of(db, tenant.id)} == {"Pairs"}

    def test_one_batch_groups_among_itself(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        report = send(
            db,
            tenant.id,
            clock,
            host_alert(severity=1),
            host_alert(severity=4),
            host_alert("other-host", severity=2),
        )

        assert report.incidents_created == 2
        assert report.items[0].incident_id == report.items[1].incident_id
        assert report.items[1].grouping_reason is not None
        assert report.items[1].grouping_reason["decision"] == "attached"
        [grouped, single] = incidents_of(db, tenant.id)
        assert (grouped.alert_count, grouped.severity) == (2, 4)
        assert (single.alert_count, single.severity) == (1, 2)

    def test_a_repeat_is_stored_once(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        body = host_alert(externalId="edr-42")
        first = send(db, tenant.id, clock, body).items[0]
        clock.advance(timedelta(hours=1))
        again = send(db, tenant.id, clock, body).items[0]

        assert again.duplicate and not first.duplicate
        assert (again.alert_id, again.incident_id) == (first.alert_id, first.incident_id)
        assert again.incident_hash == first.incident_hash
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            stored = session.get(Alert, first.alert_id)
            assert stored is not None
            assert (stored.occurrences, stored.last_seen_at) == (2, T0 + timedelta(hours=1))
        assert footprint(db, tenant.id)["alerts"] == 1


class TestAllOrNothing:
    def test_an_invalid_alert_rejects_the_whole_batch(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        send(db, tenant.id, clock, host_alert())
        before = footprint(db, tenant.id)

        with pytest.raises(InvalidInput) as info:
            send(
                db, tenant.id, clock, host_alert("a"), host_alert("b"), host_alert("c", severity=9)
            )

        assert info.value.errors[0]["field"].startswith("alerts[2]")
        assert footprint(db, tenant.id) == before

    def test_a_failure_after_ingest_leaves_nothing_behind(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        """Whatever fails later in the request rolls back every bulk write of the batch."""
        send(db, tenant.id, clock, host_alert())
        before = footprint(db, tenant.id)

        with (
            pytest.raises(RuntimeError),
            unit_of_work(db, TenantContext(tenant.id), write=True) as session,
        ):
            report = ingest(
                session, [host_alert(), host_alert("x"), host_alert("y")], ACTOR, clock.now()
            )
            assert report.incidents_created == 2
            raise RuntimeError("the response could not be sent")

        assert footprint(db, tenant.id) == before

    def test_a_rejected_batch_costs_no_incident_numbers(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        send(db, tenant.id, clock, host_alert("a"))
        with (
            pytest.raises(RuntimeError),
            unit_of_work(db, TenantContext(tenant.id), write=True) as session,
        ):
            ingest(session, [host_alert("b"), host_alert("c")], ACTOR, clock.now())
            raise RuntimeError("abort")
        send(db, tenant.id, clock, host_alert("d"))

        assert [i.number for i in incidents_of(db, tenant.id)] == [1, 2]


class TestNumbering:
    def test_numbers_are_sequential_across_batches(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        for size in (3, 1, 4):
            send(
                db,
                tenant.id,
                clock,
                *(host_alert(f"host-{uuid.uuid4().hex[:8]}") for _ in range(size)),
            )
            clock.advance(timedelta(minutes=1))

        incidents = incidents_of(db, tenant.id)
        assert [i.number for i in incidents] == list(range(1, 9))
        assert footprint(db, tenant.id)["incident_seq"] == 8
        # numbered in the order their first alerts arrived
        by_time = sorted(incidents, key=lambda i: (i.created_at, i.number))
        assert [i.number for i in by_time] == list(range(1, 9))

    def test_each_tenant_counts_on_its_own(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        for n in range(3):
            send(db, tenant.id, clock, host_alert(f"a{n}"))
            send(db, other_tenant.id, clock, host_alert(f"b{n}"), host_alert(f"c{n}"))

        assert [i.number for i in incidents_of(db, tenant.id)] == [1, 2, 3]
        assert [i.number for i in incidents_of(db, other_tenant.id)] == list(range(1, 7))

    def test_joining_an_incident_takes_no_number(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        send(db, tenant.id, clock, host_alert())
        send(db, tenant.id, clock, host_alert(), host_alert())
        assert footprint(db, tenant.id)["incident_seq"] == 1


class TestIncidentHash:
    def test_hashes_are_well_formed_and_unique(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        report = send(db, tenant.id, clock, *(host_alert(f"h{i}") for i in range(150)))
        other = send(db, other_tenant.id, clock, *(host_alert(f"h{i}") for i in range(50)))

        hashes = [i.incident_hash for i in incidents_of(db, tenant.id)]
        hashes += [i.incident_hash for i in incidents_of(db, other_tenant.id)]
        assert len(hashes) == 200
        assert len(set(hashes)) == 200
        assert all(HASH_RE.match(h) for h in hashes)
        reported = {item.incident_id: item.incident_hash for item in report.items + other.items}
        with unit_of_work(db, SystemContext()) as session:
            stored = dict(
                session.execute(
                    select(Incident.id, Incident.incident_hash).where(
                        Incident.id.in_(list(reported))
                    )
                ).all()
            )
        assert reported == stored


class TestEventTimes:
    @pytest.mark.parametrize(
        "created_at",
        [
            "2031-03-02T08:30:00+00:00",
            "2031-03-02T10:30:00+02:00",
            "2031-03-02T08:30:00Z",
        ],
    )
    def test_explicit_event_times_are_stored_in_utc(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock, created_at: str
    ) -> None:
        item = send(db, tenant.id, clock, host_alert(createdAt=created_at)).items[0]
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            stored = session.get(Alert, item.alert_id)
            assert stored is not None
            assert stored.created_at == T0 - timedelta(minutes=30)
            assert stored.created_at.tzinfo is not None

    def test_a_naive_event_time_is_accepted_or_refused_cleanly(
        self, db: Database, tenant: TenantKeys, clock: FrozenClock
    ) -> None:
        """No offset: take it as UTC (or refuse it with a 4xx), never crash the batch."""
        send(db, tenant.id, clock, host_alert())
        try:
            item = send(db, tenant.id, clock, host_alert(createdAt="2031-03-02T08:30:00")).items[0]
        except DomainError:
            return
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            stored = session.get(Alert, item.alert_id)
            assert stored is not None and stored.created_at == T0 - timedelta(minutes=30)
