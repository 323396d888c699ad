"""The SLA scheduler against a real database: every event exactly once, on time, never for
achieved or excluded targets, and never twice when two scans run at once.

The scan serves every tenant of its database, so this module has a database of its own (no
test server scans it in the background) and passes `now` explicitly: a scan "at" T0 + 11 s
runs at once. Each test opens its incidents at its own T0, a month after the previous test's.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import fresh_database_url
from tests.factories import TenantKeys, alert, make_tenant

from muster.alerts.ingest import ingest
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from muster.incidents import service as incidents
from muster.incidents.lifecycle import Actor
from muster.incidents.schemas import IncidentCreate
from muster.models import AuditEvent, Incident
from muster.sla import service as sla
from muster.sla.policy import SlaPolicyDocument
from muster.sla.scheduler import scan

S = timedelta(seconds=1)
USER = Actor("user", "analyst@example.test", "Ana Lyst")
# HIGH: response 10 s (at risk from 5 s), resolution 60 s (at risk from 30 s)
SHORT = {
    "atRiskFraction": 0.5,
    "targets": {
        "HIGH": {"response": "10s", "resolution": "60s"},
        "LOW": {"response": "100s", "resolution": "600s"},
    },
}
_months = itertools.count(1)


@pytest.fixture(scope="module")
def sla_db(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A database of this module's own, migrated."""
    with fresh_database_url(backend, f"sla_{uuid.uuid4().hex[:10]}", tmp_path_factory) as url:
        settings = Settings(database_url=url, database_pool_size=5)
        upgrade(settings)
        database = create_db_engine(settings)
        yield database
        database.dispose()


@pytest.fixture()
def t0() -> datetime:
    """This test's opening time: whole seconds, a month after the previous test's."""
    return datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=30 * next(_months))


@pytest.fixture()
def shop(sla_db: Database) -> TenantKeys:
    """A tenant on the SHORT policy."""
    tenant = make_tenant(sla_db)
    with unit_of_work(sla_db, TenantContext(tenant.id), write=True) as session:
        sla.put_policy(session, SlaPolicyDocument.model_validate(SHORT), datetime.now(UTC))
    return tenant


def open_incidents(
    db: Database, tenant: TenantKeys, now: datetime, *severities: int
) -> list[uuid.UUID]:
    """One ingested incident per severity (distinct hosts), opened at `now`."""
    bodies = [
        alert(severity=sev, hostname=f"h{i}-{uuid.uuid4().hex[:6]}")
        for i, sev in enumerate(severities)
    ]
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        report = ingest(session, bodies, USER, now)
    return [item.incident_id for item in report.items]  # type: ignore[misc]


def change(
    db: Database, tenant: TenantKeys, incident_id: uuid.UUID, now: datetime, **fields: Any
) -> None:
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        incidents.change_incident(session, incident_id, fields, USER, now)


def scan_every_second(db: Database, start: datetime, seconds: int) -> None:
    for n in range(seconds + 1):
        scan(db, start + n * S)


def sla_events(db: Database, tenant: TenantKeys) -> list[tuple[uuid.UUID, str, str, datetime]]:
    """(incident, action, target, raised at) of the tenant's SLA timeline entries."""
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(("sla.at_risk", "sla.breached")))
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ).all()
        return [(r.subject_id, r.action, r.changes["target"], r.created_at) for r in rows]


def incident(db: Database, tenant: TenantKeys, incident_id: uuid.UUID) -> Incident:
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        found = session.get(Incident, incident_id)
        assert found is not None
        session.expunge(found)
        return found


class TestScan:
    def test_every_event_once_at_the_first_scan_past_its_threshold(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        ingested = open_incidents(sla_db, shop, t0, 4, 4)
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            manual = incidents.create_incident(
                session, IncidentCreate(description="by hand", severity=4), USER, t0
            ).id
        scan_every_second(sla_db, t0, 70)
        scan_every_second(sla_db, t0, 70)  # scanning the same times again raises nothing
        expected = [
            ("sla.at_risk", "response", t0 + 5 * S),
            ("sla.breached", "response", t0 + 11 * S),  # due at 10 s: breached after it
            ("sla.at_risk", "resolution", t0 + 30 * S),
            ("sla.breached", "resolution", t0 + 61 * S),
        ]
        events = sla_events(sla_db, shop)
        for incident_id in [*ingested, manual]:
            mine = [(a, t, at) for i, a, t, at in events if i == incident_id]
            assert mine == expected
            row = incident(sla_db, shop, incident_id)
            assert (row.response_due_at, row.resolution_due_at) == (t0 + 10 * S, t0 + 60 * S)
            assert (row.sla_raised, row.sla_next_at) == (15, None)

    def test_the_timeline_entry_names_target_due_time_and_state(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 4)
        scan(sla_db, t0 + 11 * S)
        with unit_of_work(sla_db, TenantContext(shop.id)) as session:
            (entry,) = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_id == incident_id, AuditEvent.action.like("sla.%")
                )
            ).all()
        assert entry.action == "sla.breached"
        assert (entry.actor, entry.actor_type) == ("system", "system")
        assert entry.changes == {
            "target": "response",
            "dueAt": (t0 + 10 * S).isoformat(),
            "state": "breached",
        }
        assert entry.reason and "response" in entry.reason

    def test_a_responded_incident_does_not_breach_its_response(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 4)
        scan_every_second(sla_db, t0, 3)
        change(sla_db, shop, incident_id, t0 + 3 * S, status="UNDER_INVESTIGATION")
        assert incident(sla_db, shop, incident_id).sla_next_at == t0 + 30 * S  # resolution next
        scan_every_second(sla_db, t0 + 3 * S, 67)
        assert [(a, t) for _, a, t, _ in sla_events(sla_db, shop)] == [
            ("sla.at_risk", "resolution"),
            ("sla.breached", "resolution"),
        ]

    def test_a_resolved_incident_raises_nothing_more(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 4)
        scan_every_second(sla_db, t0, 6)  # response at risk at 5 s
        change(
            sla_db, shop, incident_id, t0 + 6 * S, status="RESOLVED", resolution="FALSE_POSITIVE"
        )
        assert incident(sla_db, shop, incident_id).sla_next_at is None
        scan_every_second(sla_db, t0 + 6 * S, 100)
        assert [(a, t) for _, a, t, _ in sla_events(sla_db, shop)] == [("sla.at_risk", "response")]

    def test_a_breach_is_raised_once_even_across_reopens(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 4)
        change(sla_db, shop, incident_id, t0 + S, status="RESOLVED", resolution="FALSE_POSITIVE")
        change(sla_db, shop, incident_id, t0 + 70 * S, status="OPEN")  # reopened after due
        scan(sla_db, t0 + 71 * S)
        change(
            sla_db, shop, incident_id, t0 + 72 * S, status="RESOLVED", resolution="TRUE_POSITIVE"
        )
        change(sla_db, shop, incident_id, t0 + 73 * S, status="OPEN")
        scan_every_second(sla_db, t0 + 73 * S, 10)
        assert [(a, t) for _, a, t, _ in sla_events(sla_db, shop)] == [
            ("sla.breached", "resolution")
        ]

    def test_excluded_incidents_raise_nothing_until_included_again(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            excluded = incidents.create_incident(
                session,
                IncidentCreate(description="noise", severity=4, exclude_from_sla=True),
                USER,
                t0,
            ).id
        (toggled,) = open_incidents(sla_db, shop, t0, 4)
        assert incident(sla_db, shop, excluded).sla_next_at is None
        change(sla_db, shop, toggled, t0 + S, exclude_from_sla=True)
        scan_every_second(sla_db, t0, 20)
        assert sla_events(sla_db, shop) == []
        change(sla_db, shop, toggled, t0 + 20 * S, exclude_from_sla=False)
        scan(sla_db, t0 + 21 * S)
        assert [(i, a, t) for i, a, t, _ in sla_events(sla_db, shop)] == [
            (toggled, "sla.breached", "response")  # already past due: no at-risk event
        ]


class TestRetiming:
    def test_a_severity_change_retimes_both_targets_from_created_at(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 2)
        low = incident(sla_db, shop, incident_id)
        assert (low.response_due_at, low.resolution_due_at) == (t0 + 100 * S, t0 + 600 * S)
        change(sla_db, shop, incident_id, t0 + 3 * S, severity=4)
        high = incident(sla_db, shop, incident_id)
        assert (high.response_due_at, high.resolution_due_at) == (t0 + 10 * S, t0 + 60 * S)
        assert high.sla_next_at == t0 + 5 * S

    def test_a_severity_raised_by_ingest_retimes_too(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        body = alert(severity=2, hostname=f"grouped-{uuid.uuid4().hex[:6]}")
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            (item,) = ingest(session, [body], USER, t0).items
        raised = {**body, "severity": 4, "externalId": f"ext-{uuid.uuid4().hex}"}
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            (again,) = ingest(session, [raised], USER, t0 + 2 * S).items
        assert again.incident_id == item.incident_id
        assert item.incident_id is not None
        high = incident(sla_db, shop, item.incident_id)
        assert high.severity == 4
        assert (high.response_due_at, high.resolution_due_at) == (t0 + 10 * S, t0 + 60 * S)
        assert high.sla_next_at == t0 + 5 * S

    def test_a_new_policy_leaves_open_incidents_their_due_times(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (before,) = open_incidents(sla_db, shop, t0, 4)
        slower = {"targets": {"HIGH": {"response": "1h", "resolution": "1d"}}}
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            sla.put_policy(session, SlaPolicyDocument.model_validate(slower), t0 + S)
        (after,) = open_incidents(sla_db, shop, t0 + 2 * S, 4)
        assert incident(sla_db, shop, before).response_due_at == t0 + 10 * S
        assert incident(sla_db, shop, after).response_due_at == t0 + 2 * S + timedelta(hours=1)

    def test_lowering_the_at_risk_fraction_pulls_pending_checks_forward(
        self, sla_db: Database, shop: TenantKeys, t0: datetime
    ) -> None:
        (incident_id,) = open_incidents(sla_db, shop, t0, 2)  # response due at 100 s
        assert incident(sla_db, shop, incident_id).sla_next_at == t0 + 50 * S
        sooner = {**SHORT, "atRiskFraction": 0.2}  # at risk from 20 s
        with unit_of_work(sla_db, TenantContext(shop.id), write=True) as session:
            sla.put_policy(session, SlaPolicyDocument.model_validate(sooner), t0 + 25 * S)
        assert incident(sla_db, shop, incident_id).sla_next_at == t0 + 25 * S
        scan(sla_db, t0 + 25 * S)
        assert [(a, t, at) for _, a, t, at in sla_events(sla_db, shop)] == [
            ("sla.at_risk", "response", t0 + 25 * S)
        ]


class TestConcurrentScans:
    def test_two_scanners_never_raise_an_event_twice(
        self, sla_db: Database, backend: str, t0: datetime
    ) -> None:
        tenant = make_tenant(sla_db)
        with unit_of_work(sla_db, TenantContext(tenant.id), write=True) as session:
            sla.put_policy(session, SlaPolicyDocument.model_validate(SHORT), t0)
        ids = set(open_incidents(sla_db, tenant, t0, *[4] * 200))
        other = create_db_engine(
            Settings(
                database_url=str(sla_db.engine.url.render_as_string(hide_password=False)),
                database_pool_size=2,
            )
        )
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(db: Database) -> None:
            try:
                barrier.wait()
                for n in range(0, 75, 3):
                    scan(db, t0 + n * S, batch=15)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(db,)) for db in (sla_db, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        other.dispose()
        assert errors == []
        counts = Counter((i, a, t) for i, a, t, _ in sla_events(sla_db, tenant))
        assert {i for i, _, _ in counts} == ids
        assert set(counts.values()) == {1}
        assert len(counts) == 4 * len(ids)
