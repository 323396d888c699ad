"""SOAR actions on muster data (in transaction, read only) on SQLite and PostgreSQL.

Each test owns a fresh tenant, opens an incident by hand, and runs actions the way the engine
does: parameters validated by the action's `Input`, `run` inside a tenant unit of work with
`ctx.session`, the output dumped as JSON.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from tests.factories import TenantKeys, alert

from muster.alerts.ingest import ingest
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import DomainError, InvalidInput, NotFound
from muster.incidents.lifecycle import Actor
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import create_incident
from muster.models import AuditEvent, Comment, Incident
from muster.soar.actions import enrich_actions
from muster.soar.actions.base import ActionContext, load_actions

# in the future: the shared server's SLA scan must not raise events on these incidents
T0 = datetime(2031, 3, 2, 9, 0, tzinfo=UTC)
ACTOR = Actor("apikey", "test-key", "service tests")


def open_incident(
    db: Database, tenant: TenantKeys, at: datetime = T0, alert_ids: list[uuid.UUID] | None = None
) -> uuid.UUID:
    """A manual incident (severity 3, OPEN), optionally taking existing alerts."""
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        data = IncidentCreate(description="Suspicious sign-in", alert_ids=alert_ids or [])
        return create_incident(session, data, ACTOR, at).id


def run(
    db: Database,
    tenant: TenantKeys,
    incident_id: uuid.UUID,
    action: str,
    params: dict[str, Any],
    at: datetime = T0,
) -> dict[str, Any]:
    """Run one action as the engine does (in a write transaction; a `read_only` one in a
    read-only transaction); its JSON output."""
    cls = load_actions()[action]
    assert cls.in_transaction or cls.read_only
    inputs = cls.Input.model_validate(params)
    with unit_of_work(db, TenantContext(tenant.id), write=not cls.read_only) as session:
        ctx = ActionContext(
            tenant_id=tenant.id,
            process_id=uuid.uuid4(),
            step_id="step1",
            incident={"id": str(incident_id), "incidentHash": "ABCD-EFGH"},
            memory={},
            now=at,
            settings=Settings(database_url="sqlite://"),
            idempotency_key="p:1",
            session=session,
        )
        return cls().run(ctx, inputs).model_dump(mode="json")


def state(db: Database, tenant: TenantKeys, incident_id: uuid.UUID) -> dict[str, Any]:
    """The incident's fields as stored."""
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        incident = session.get_one(Incident, incident_id)
        return {attr.key: getattr(incident, attr.key) for attr in Incident.__mapper__.column_attrs}


def timeline(db: Database, tenant: TenantKeys, incident_id: uuid.UUID) -> list[AuditEvent]:
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == incident_id)
            .order_by(AuditEvent.created_at, AuditEvent.action)
        )
        out = list(rows)
        session.expunge_all()
        return out


@pytest.fixture()
def incident(db: Database, tenant: TenantKeys) -> uuid.UUID:
    return open_incident(db, tenant)


class TestSetSeverity:
    def test_changes_it_once_and_the_timeline_names_soar_and_the_step(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        later = T0 + timedelta(minutes=5)
        assert run(db, tenant, incident, "set_severity", {"severity": 4}, later) == {
            "severity": 4,
            "changed": True,
        }
        assert state(db, tenant, incident)["severity"] == 4
        entry = timeline(db, tenant, incident)[-1]
        assert (entry.actor, entry.actor_type, entry.reason) == (
            "SOAR",
            "soar",
            "playbook step step1",
        )
        assert entry.changes == {"severity": [3, 4]}
        assert run(db, tenant, incident, "set_severity", {"severity": 4}) == {
            "severity": 4,
            "changed": False,
        }
        assert len(timeline(db, tenant, incident)) == 2  # created + one change

    @pytest.mark.parametrize("severity", [0, 5, "high"])
    def test_refuses_values_outside_1_to_4(self, severity: Any) -> None:
        with pytest.raises(ValidationError):
            load_actions()["set_severity"].Input.model_validate({"severity": severity})


class TestStatusAndResolve:
    def test_status_moves_and_resolve_needs_a_resolution(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        out = run(db, tenant, incident, "set_status", {"status": "UNDER_INVESTIGATION"})
        assert out == {"status": "UNDER_INVESTIGATION", "changed": True}
        with pytest.raises(ValidationError):
            load_actions()["set_status"].Input.model_validate({"status": "RESOLVED"})
        with pytest.raises(ValidationError):
            load_actions()["resolve"].Input.model_validate({"comment": "done"})
        assert state(db, tenant, incident)["status"] == "UNDER_INVESTIGATION"

    def test_resolve_with_comment_then_reopen_clears_the_verdict(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        at = T0 + timedelta(hours=1)
        out = run(
            db,
            tenant,
            incident,
            "resolve",
            {"resolution": "FALSE_POSITIVE", "comment": "known scanner"},
            at,
        )
        assert out == {
            "status": "RESOLVED",
            "resolution": "FALSE_POSITIVE",
            "resolutionComment": "known scanner",
            "changed": True,
        }
        stored = state(db, tenant, incident)
        assert (stored["status"], stored["resolved_at"]) == ("RESOLVED", at)
        assert timeline(db, tenant, incident)[-1].action == "incident.resolved"

        assert run(db, tenant, incident, "set_status", {"status": "OPEN"})["changed"] is True
        stored = state(db, tenant, incident)
        assert (stored["status"], stored["resolution"], stored["resolved_at"]) == (
            "OPEN",
            None,
            None,
        )

    def test_an_unknown_resolution_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            load_actions()["resolve"].Input.model_validate({"resolution": "MAYBE"})


class TestTags:
    def test_add_remove_and_set(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        out = run(db, tenant, incident, "add_tags", {"tags": ["phishing", " vip ", "phishing"]})
        assert out == {"tags": ["phishing", "vip"], "added": ["phishing", "vip"], "changed": True}
        out = run(db, tenant, incident, "add_tags", {"tags": ["vip", "soar"]})
        assert out == {"tags": ["phishing", "vip", "soar"], "added": ["soar"], "changed": True}
        out = run(db, tenant, incident, "remove_tags", {"tags": ["vip", "absent"]})
        assert out == {"tags": ["phishing", "soar"], "removed": ["vip"], "changed": True}
        assert run(db, tenant, incident, "remove_tags", {"tags": ["absent"]})["changed"] is False
        out = run(db, tenant, incident, "set_tags", {"tags": ["b", "a", "b"]})
        assert out == {"tags": ["b", "a"], "changed": True}
        assert state(db, tenant, incident)["tags"] == ["b", "a"]
        assert run(db, tenant, incident, "set_tags", {"tags": []}) == {"tags": [], "changed": True}

    def test_more_than_100_tags_is_a_domain_error(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        run(db, tenant, incident, "set_tags", {"tags": [f"t{i}" for i in range(90)]})
        with pytest.raises(InvalidInput, match=r"^tags: "):
            run(db, tenant, incident, "add_tags", {"tags": [f"u{i}" for i in range(20)]})
        assert len(state(db, tenant, incident)["tags"]) == 90


class TestSetMitre:
    def test_normalises_like_the_incident_api(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        out = run(db, tenant, incident, "set_mitre", {"tactic": "lateral-movement"})
        assert out == {"mitreTactic": "Lateral Movement", "mitreTechnique": None, "changed": True}
        out = run(
            db,
            tenant,
            incident,
            "set_mitre",
            {"technique": "https://attack.mitre.org/techniques/T1021/001/"},
        )
        assert out["mitreTechnique"] == "T1021.001"
        assert out["mitreTactic"] == "Lateral Movement"  # untouched
        stored = state(db, tenant, incident)
        assert (stored["mitre_tactic"], stored["mitre_technique"]) == (
            "Lateral Movement",
            "T1021.001",
        )

    def test_an_unknown_value_names_the_parameter(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        with pytest.raises(InvalidInput) as caught:
            run(db, tenant, incident, "set_mitre", {"tactic": "Napping"})
        assert caught.value.errors[0]["field"] == "tactic"
        assert "unknown MITRE ATT&CK tactic" in caught.value.detail
        with pytest.raises(ValidationError, match="give a tactic, a technique or both"):
            load_actions()["set_mitre"].Input.model_validate({})


class TestAssign:
    def test_assign_a_member_then_unassign(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        out = run(db, tenant, incident, "assign", {"email": tenant.member_email.upper()})
        assert out == {
            "assignee": tenant.member_email,
            "assigneeName": tenant.member_name,
            "changed": True,
        }
        assert state(db, tenant, incident)["assignee"] == tenant.member_email
        out = run(db, tenant, incident, "unassign", {})
        assert out == {"assignee": None, "assigneeName": None, "changed": True}

    def test_a_stranger_is_refused_and_nothing_changes(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        with pytest.raises(DomainError) as caught:
            run(db, tenant, incident, "assign", {"email": other_tenant.member_email})
        assert caught.value.code == "incident.assignee_not_member"
        assert state(db, tenant, incident)["assignee"] is None


class TestComment:
    def test_the_comment_is_stored_as_soar(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        out = run(db, tenant, incident, "comment", {"body": "Enriched: 3 related incidents"})
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            comment = session.get_one(Comment, uuid.UUID(out["commentId"]))
            assert (comment.incident_id, comment.author, comment.author_type, comment.body) == (
                incident,
                "SOAR",
                "soar",
                "Enriched: 3 related incidents",
            )
        assert state(db, tenant, incident)["responded_at"] is None  # SOAR is not a response

    def test_an_empty_comment_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            load_actions()["comment"].Input.model_validate({"body": ""})


class TestTenancy:
    def test_another_tenants_incident_is_not_found(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        theirs = open_incident(db, other_tenant)
        with pytest.raises(NotFound):
            run(db, tenant, theirs, "set_severity", {"severity": 1})
        assert state(db, other_tenant, theirs)["severity"] == 3


def incident_with(db: Database, tenant: TenantKeys, at: datetime, **fields: Any) -> uuid.UUID:
    """An incident opened at `at` holding one alert (event time `at`) with these fields."""
    body = alert(**{"hostname": None, "username": None, "srcIp": None, **fields})
    body["createdAt"] = at.isoformat()
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        alert_id = ingest(session, [body], ACTOR, at).items[0].alert_id
    return open_incident(db, tenant, at, [alert_id])


class TestRelatedIncidents:
    def test_finds_shared_values_newest_first_within_the_window(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        now = T0
        this = incident_with(
            db,
            tenant,
            now - timedelta(hours=1),
            hostname="ws-1.corp",
            username="alice",
            srcIp="10.0.0.5",
            entities=[{"type": "ip", "value": "203.0.113.9"}, {"type": "host"}],
        )
        by_host = incident_with(db, tenant, now - timedelta(days=3), hostname="WS-1.CORP")
        by_entity = incident_with(
            db,
            tenant,
            now - timedelta(days=2),
            hostname="db-7",
            entities=[{"type": "account", "value": "Alice"}, {"type": "ip", "value": "1.2.3.4"}],
        )
        by_src_ip = incident_with(db, tenant, now - timedelta(days=1), srcIp="203.0.113.9")
        incident_with(db, tenant, now - timedelta(days=1), hostname="ws-2", username="bob")
        too_old = incident_with(db, tenant, now - timedelta(days=40), username="alice")
        incident_with(db, other_tenant, now - timedelta(days=1), hostname="ws-1.corp")

        out = run(db, tenant, this, "related_incidents", {}, now)
        found = [(item["id"], item["shared"]) for item in out["incidents"]]
        assert found == [
            (str(by_src_ip), ["203.0.113.9"]),
            (str(by_entity), ["alice"]),
            (str(by_host), ["ws-1.corp"]),
        ]
        first = out["incidents"][0]
        stored = state(db, tenant, by_src_ip)
        assert first == {
            "id": str(by_src_ip),
            "incidentHash": stored["incident_hash"],
            "number": stored["number"],
            "description": "Suspicious sign-in",
            "status": "OPEN",
            "severity": 3,
            "shared": ["203.0.113.9"],
        }

        wider = run(db, tenant, this, "related_incidents", {"days": 60, "limit": 10}, now)
        assert [item["id"] for item in wider["incidents"]][-1] == str(too_old)
        assert len(wider["incidents"]) == 4
        limited = run(db, tenant, this, "related_incidents", {"limit": 1}, now)
        assert [item["id"] for item in limited["incidents"]] == [str(by_src_ip)]

    def test_only_the_tenants_newest_alerts_are_examined(
        self, db: Database, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        now = T0
        this = incident_with(db, tenant, now - timedelta(hours=1), hostname="edge-9")
        older = incident_with(db, tenant, now - timedelta(days=2), hostname="EDGE-9")
        newer = incident_with(db, tenant, now - timedelta(days=1), hostname="edge-9")
        for hours in (2, 3):  # two unrelated alerts, newer than both relatives
            incident_with(db, tenant, now - timedelta(hours=hours), hostname=f"other-{hours}")
        everything = run(db, tenant, this, "related_incidents", {}, now)
        assert [item["id"] for item in everything["incidents"]] == [str(newer), str(older)]
        # the newest 4 alerts: this incident's, the two unrelated ones and `newer`'s
        monkeypatch.setattr(enrich_actions, "MAX_EXAMINED", 4)
        bounded = run(db, tenant, this, "related_incidents", {}, now)
        assert [item["id"] for item in bounded["incidents"]] == [str(newer)]

    def test_an_incident_without_alerts_has_no_relatives(
        self, db: Database, tenant: TenantKeys, incident: uuid.UUID
    ) -> None:
        assert run(db, tenant, incident, "related_incidents", {}) == {"incidents": []}
