"""Entity-aware grouping through `muster.alerts.ingest.ingest` on the real databases.

Each test owns a tenant whose only enabled rule is an entities rule (or that rule before
the default key rules), sends batches in their own transactions and reads back incidents,
the entity index and the learned commonness.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from tests.factories import TenantKeys, alert

from muster.alerts.ingest import IngestReport, ingest
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.grouping.entity_batch import HOLDERS_PER_KEY
from muster.grouping.entity_keys import entity_key
from muster.grouping.entity_repository import EntityRepository
from muster.grouping.schemas import GroupingRuleCreate
from muster.grouping.service import create_rule
from muster.incidents.lifecycle import Actor
from muster.models import AuditEvent, EntityCommonness, EntityIncident, GroupingRule, Incident

T0 = datetime(2031, 5, 2, 9, 0, tzinfo=UTC)
ACTOR = Actor("apikey", "test-key", "entity grouping tests")
RULE = "Shared entities (test)"


def entities_only(db: Database, tenant: TenantKeys, **fields: Any) -> None:
    """Disable every rule of the tenant and add an entities rule."""
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        session.execute(update(GroupingRule).values(enabled=False))
        data = {"name": RULE, "strategy": "entities", "window_seconds": 86400, **fields}
        create_rule(session, GroupingRuleCreate(**data), T0)


def send(db: Database, tenant: TenantKeys, *alerts: dict[str, Any]) -> IngestReport:
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        return ingest(session, list(alerts), ACTOR, T0)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def bare(**over: Any) -> dict[str, Any]:
    """An alert naming only what the test gives it."""
    body = alert(hostname=None, username=None, srcIp=None, initiatorCmd=None, createdAt=at(0))
    body.update(over)
    return body


def incident_of(report: IngestReport, index: int = 0) -> uuid.UUID:
    found = report.items[index].incident_id
    assert found is not None
    return found


class TestJoining:
    def test_another_detection_on_the_same_host_joins_and_says_why(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant)
        first = send(db, tenant, bare(hostname="WS-7.corp.example", ruleName="Macro dropped"))
        second = send(
            db,
            tenant,
            bare(hostname="ws-7", ruleName="LSASS read", createdAt=at(30)),
        )
        assert incident_of(second) == incident_of(first)
        reason = second.items[0].grouping_reason
        assert reason is not None
        assert reason["decision"] == "attached" and reason["rule"] == RULE
        assert reason["strategy"] == "entities"
        assert reason["entities"] == [{"kind": "host", "value": "ws-7", "weight": 1.0}]
        assert reason["score"] >= reason["threshold"]
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            incident = session.get(Incident, incident_of(first))
            assert incident is not None and incident.alert_count == 2
            events = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_id == incident.id, AuditEvent.action == "alert.grouped"
                )
            ).all()
            assert [e.reason for e in events] == [reason["detail"]]
            assert "ws-7" in reason["detail"]

    def test_alerts_of_one_batch_join_through_a_shared_account(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant)
        report = send(
            db,
            tenant,
            bare(username="CORP\\mallory", ruleName="Impossible travel"),
            bare(hostname="ws-9", ruleName="Unusual sign-in", createdAt=at(1)),
            bare(username="mallory@corp.example", ruleName="Mass download", createdAt=at(2)),
        )
        ids = [incident_of(report, i) for i in range(3)]
        assert ids[0] == ids[2] != ids[1]
        assert report.incidents_created == 2

    def test_resolved_and_out_of_window_incidents_take_nothing(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant, window_seconds=3600)
        resolved = send(db, tenant, bare(hostname="srv-1"))
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            session.execute(
                update(Incident)
                .where(Incident.id == incident_of(resolved))
                .values(status="RESOLVED")
            )
        fresh = send(db, tenant, bare(hostname="srv-1", createdAt=at(5)))
        assert incident_of(fresh) != incident_of(resolved)
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            number = session.get(Incident, incident_of(resolved)).number  # type: ignore[union-attr]
        reason = fresh.items[0].grouping_reason
        assert reason is not None and f"#{number} is RESOLVED" in reason["detail"]
        # the look-up is bounded by the window: an older incident is not even a candidate
        late = send(db, tenant, bare(hostname="srv-1", createdAt=at(120)))
        assert incident_of(late) not in (incident_of(fresh), incident_of(resolved))
        reason = late.items[0].grouping_reason
        assert reason is not None and reason["decision"] == "opened"
        assert reason["detail"].startswith("no open incident shares an entity within 1h")


class TestHolders:
    def test_only_the_most_recent_holders_of_a_key_are_read(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant)
        opened = []
        for minute in range(HOLDERS_PER_KEY + 3):  # each incident resolved before the next
            report = send(db, tenant, bare(hostname="busy-host", createdAt=at(minute)))
            opened.append(incident_of(report))
            with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
                session.execute(
                    update(Incident).where(Incident.id == opened[-1]).values(status="RESOLVED")
                )
        assert len(set(opened)) == len(opened)
        busy, rare = entity_key("host", "busy-host"), entity_key("host", "nowhere")
        assert busy is not None and rare is not None
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            held, incidents, _ = EntityRepository(session).holders(
                [busy.key, rare.key], T0 - timedelta(hours=1)
            )
            assert sorted(h.incident_id for h in held) == sorted(opened[-HOLDERS_PER_KEY:])
            assert {h.key for h in held} == {busy.key}
            assert set(incidents) == set(opened[-HOLDERS_PER_KEY:])
            # the window bounds them too: nothing first seen before `since`
            late, _, _ = EntityRepository(session).holders([busy.key], T0 + timedelta(minutes=5))
            assert sorted(h.incident_id for h in late) == sorted(opened[5:])


class TestCommonEntities:
    def test_a_nat_address_does_not_glue_hosts_and_is_learned_as_common(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant)
        nat = "203.0.113.77"
        hosts = [f"branch-{i}" for i in range(12)]
        first = send(db, tenant, *[bare(hostname=h, srcIp=nat) for h in hosts[:6]])
        second = send(
            db, tenant, *[bare(hostname=h, srcIp=nat, createdAt=at(10)) for h in hosts[6:]]
        )
        ids = [incident_of(first, i) for i in range(6)] + [incident_of(second, i) for i in range(6)]
        # the second host to show the address may still join the first (one subject had
        # shown it); from the third on, the address is shared and glues nothing
        assert len(set(ids[1:])) == len(hosts) - 1
        assert len(set(ids)) >= len(hosts) - 1
        key = entity_key("ip", nat)
        assert key is not None
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            common = session.scalars(
                select(EntityCommonness).where(EntityCommonness.entity_key == key.key)
            ).one()
            assert len(common.subjects) == len(hosts) and common.kind == "ip"
            holders = session.scalars(
                select(EntityIncident.incident_id).where(EntityIncident.entity_key == key.key)
            ).all()
            # indexed while it could still weigh in; once known to be common it is not
            assert set(holders) == set(ids[:6])

    def test_a_host_seen_with_many_subjects_needs_more_than_itself(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        entities_only(db, tenant)
        # a domain controller named in alerts about 15 workstations
        send(
            db,
            tenant,
            *[
                bare(hostname=f"ws-{i}", entities=[{"type": "host", "value": "dc-01"}])
                for i in range(15)
            ],
        )
        about_dc = send(db, tenant, bare(hostname="dc-01", ruleName="DCSync", createdAt=at(5)))
        reason = about_dc.items[0].grouping_reason
        assert reason is not None and reason["decision"] == "opened"
        assert reason["score"] < reason["threshold"]

    @pytest.mark.parametrize(("threshold", "joins"), [(2.0, True), (2.5, False)])
    def test_the_threshold_is_the_rules(
        self, db: Database, tenant: TenantKeys, threshold: float, joins: bool
    ) -> None:
        entities_only(db, tenant, threshold=threshold)
        first = send(db, tenant, bare(hostname="ws-3", username="eve"))
        second = send(db, tenant, bare(hostname="ws-3", username="eve", createdAt=at(3)))
        assert (incident_of(second) == incident_of(first)) is joins
        reason = second.items[0].grouping_reason
        # a rare host and a rare account: 1.0 each
        assert reason is not None and reason["score"] == 2.0 and reason["threshold"] == threshold


class TestWithKeyRules:
    def test_key_rules_behave_as_before_when_the_entities_rule_is_off(
        self, db: Database, tenant: TenantKeys
    ) -> None:
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            rules = session.scalars(select(GroupingRule).order_by(GroupingRule.position)).all()
            entity_rules = [r for r in rules if (r.extra or {}).get("strategy") == "entities"]
            assert [r.enabled for r in entity_rules] == [False]
        first = send(db, tenant, bare(hostname="ws-1", ruleName="A"))
        second = send(db, tenant, bare(hostname="ws-1", ruleName="B", createdAt=at(1)))
        assert incident_of(second) != incident_of(first)
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            assert session.scalars(select(EntityIncident)).all() == []
