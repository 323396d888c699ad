"""Webhook bodies: the standard payload, the ContraForce envelope, links and event ids (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from muster.notify.webhooks.payloads import (
    contraforce_envelope,
    event_id,
    incident_view,
    ping_payload,
    render,
    sla_state,
    standard_payload,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TENANT = (uuid.UUID("11111111-1111-4111-8111-111111111111"), "Acme")
INCIDENT_ID = uuid.UUID("22222222-2222-4222-8222-222222222222")
ROW_ID = uuid.UUID("33333333-3333-4333-8333-333333333333")


def facts(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": INCIDENT_ID,
        "number": 42,
        "incident_hash": "K7Q2-M4XP",
        "description": "Suspicious PowerShell",
        "details": "long text",
        "severity": 3,
        "status": "OPEN",
        "resolution": None,
        "assignee": "ana@example.test",
        "assignee_name": "Ana Lyst",
        "source": "Defender",
        "mitre_tactic": "Execution",
        "mitre_technique": "T1059.001",
        "tags": ["vip"],
        "alert_count": 2,
        "soar_status": "NOT_PROCESSED",
        "created_at": NOW,
        "updated_at": NOW,
        "responded_at": None,
        "resolved_at": None,
        "response_due_at": NOW,
        "resolution_due_at": NOW,
        "sla_raised": 0,
        "exclude_from_sla": False,
    }
    return row | over


def timeline_row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ROW_ID,
        "tenant_id": TENANT[0],
        "subject_type": "incident",
        "subject_id": INCIDENT_ID,
        "action": "incident.updated",
        "actor": "apikey:1",
        "actor_type": "apikey",
        "changes": {"status": ["OPEN", "RESOLVED"], "resolvedAt": [None, NOW]},
        "reason": None,
        "created_at": NOW,
    }
    return row | over


def test_event_ids_are_stable_and_distinct_per_type() -> None:
    assert event_id(ROW_ID, "incident.status_changed") == event_id(
        str(ROW_ID), "incident.status_changed"
    )
    assert event_id(ROW_ID, "incident.status_changed") != event_id(ROW_ID, "incident.assigned")


def test_standard_payload() -> None:
    body = standard_payload(
        "incident.status_changed", timeline_row(), TENANT, incident_view(facts())
    )
    assert body["id"] == str(event_id(ROW_ID, "incident.status_changed"))
    assert body["type"] == "incident.status_changed"
    assert body["occurredAt"] == "2026-11-24T12:00:00Z"
    assert body["timelineEventId"] == str(ROW_ID)
    assert body["tenant"] == {"id": str(TENANT[0]), "name": "Acme"}
    assert body["actor"] == {"type": "apikey", "id": "apikey:1"}
    assert body["changes"] == {
        "status": ["OPEN", "RESOLVED"],
        "resolvedAt": [None, "2026-11-24T12:00:00Z"],
    }
    incident = body["incident"]
    assert incident["id"] == str(INCIDENT_ID) and incident["number"] == 42
    assert incident["incidentHash"] == "K7Q2-M4XP" and incident["assigneeName"] == "Ana Lyst"
    assert incident["url"] == f"/incidents/{INCIDENT_ID}"
    assert incident["slaState"] == "ok" and incident["createdAt"] == "2026-11-24T12:00:00Z"


def test_render_makes_the_link_absolute_in_both_shapes() -> None:
    body = standard_payload("incident.created", timeline_row(), TENANT, incident_view(facts()))
    url = f"https://muster.example/incidents/{INCIDENT_ID}"
    assert render(body, "https://muster.example/")["incident"]["url"] == url
    assert body["incident"]["url"].startswith("/")  # the frozen payload is left alone
    envelope = contraforce_envelope(body)
    assert render(envelope, "https://muster.example")["data"]["url"] == url
    assert (
        render(ping_payload(uuid.uuid4(), "n", TENANT, NOW, uuid.uuid4()), "x")["incident"] is None
    )


def test_sla_state_from_the_events_raised() -> None:
    assert sla_state(facts(exclude_from_sla=True, sla_raised=2)) == "excluded"
    assert sla_state(facts(response_due_at=None, resolution_due_at=None)) is None
    assert sla_state(facts(sla_raised=1)) == "at_risk"
    assert sla_state(facts(sla_raised=1 | 8)) == "breached"
    assert sla_state(facts(resolved_at=NOW)) == "met"


def test_contraforce_envelope() -> None:
    body = standard_payload("incident.created", timeline_row(), TENANT, incident_view(facts()))
    alerts = [
        {
            "rule_name": "PS",
            "severity": 4,
            "source": "Defender",
            "entities": [
                {"type": "host", "value": "ws-1"},
                {"type": "host", "value": "ws-1"},
                "junk",
            ],
        },
        {"rule_name": "Login", "severity": 0, "source": "Okta", "entities": None},
    ]
    envelope = contraforce_envelope(body, alerts)
    assert envelope["type"] == "incident.created" and envelope["isTest"] is False
    assert envelope["timestamp"] == envelope["occurredAt"] == "2026-11-24T12:00:00Z"
    data = envelope["data"]
    assert data["accountId"] == str(TENANT[0]) and data["accountName"] == "Acme"
    assert data["incidentId"] == str(INCIDENT_ID) and data["incidentNumber"] == 42
    assert data["title"] == "Suspicious PowerShell" and data["description"] == "long text"
    assert data["severity"] == "Medium"
    assert data["owner"] == {"displayName": "Ana Lyst", "email": "ana@example.test"}
    assert data["alertProductNames"] == ["Defender", "Okta"]
    assert data["alerts"][1] == {
        "title": "Login",
        "severity": "Unknown",
        "productName": "Okta",
        "vendorName": "Okta",
    }
    assert data["entities"] == [{"type": "host", "displayName": "ws-1"}]
    assert data["eventId"] == body["id"] and data["changes"] == body["changes"]


def test_contraforce_owner_for_soar_and_nobody() -> None:
    soar = incident_view(facts(assignee="SOAR", assignee_name="SOAR"))
    body = standard_payload("incident.assigned", timeline_row(), TENANT, soar)
    assert contraforce_envelope(body)["data"]["owner"] == {"displayName": "SOAR", "email": None}
    nobody = incident_view(facts(assignee=None, assignee_name=None))
    body = standard_payload("incident.assigned", timeline_row(), TENANT, nobody)
    data = contraforce_envelope(body)["data"]
    assert data["owner"] is None and data["alertProductNames"] == ["Defender"]


def test_ping() -> None:
    hook, ident = uuid.uuid4(), uuid.uuid4()
    body = ping_payload(hook, "mine", TENANT, NOW, ident)
    assert body["type"] == "ping" and body["isTest"] is True and body["id"] == str(ident)
    envelope = contraforce_envelope(body)
    assert envelope["isTest"] is True and envelope["data"]["webhook"]["id"] == str(hook)
    assert "incidentId" not in envelope["data"]
