"""SOAR end to end over HTTP: a playbook saved through the API runs on new incidents in the
test server's embedded worker, asks a question, takes the answer or times out and falls
back, and hands the incident back. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import assert_problem, wait_for
from tests.factories import TenantKeys, alert

QUESTION_TIMEOUT_S = 3


def playbook(name: str, **extra: Any) -> dict[str, Any]:
    """Raise severity, tag, ask whether to block; block → comment; timeout → escalate."""
    body: dict[str, Any] = {
        "name": name,
        "trigger": "incident",
        "criteria": "severity >= 3",
        "weight": 10,
        "steps": [
            {
                "id": "raise",
                "kind": "action",
                "action": "set_severity",
                "params": {"severity": 4},
                "next": "tag",
            },
            {
                "id": "tag",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["soar"]},
                "next": "ask",
            },
            {
                "id": "ask",
                "kind": "question",
                "question": "Block the host {{ incident.incidentHash }}?",
                "options": ["block", "ignore"],
                "answerMemory": "decision",
                "timeout": f"{QUESTION_TIMEOUT_S}s",
                "onTimeout": "escalate",
                "next": "decide",
            },
            {
                "id": "decide",
                "kind": "condition",
                "branches": [{"when": 'memory.decision = "block"', "next": "note"}],
                "else": "done",
            },
            {
                "id": "note",
                "kind": "action",
                "action": "comment",
                "params": {"body": "blocked on request of {{ memory.decisionBy }}"},
                "next": "done",
            },
            {
                "id": "escalate",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["escalated"]},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }
    body.update(extra)
    return body


@pytest.fixture()
def soar_tenant(client: httpx.Client, tenant: TenantKeys) -> TenantKeys:
    resp = client.post(
        "/api/v1/playbooks",
        json=playbook(f"block-{uuid.uuid4().hex[:6]}"),
        headers=tenant.headers(Role.TENANT_ADMIN),
    )
    assert resp.status_code == 201, resp.text
    return tenant


def ingest_incident(client: httpx.Client, tenant: TenantKeys, **fields: Any) -> str:
    resp = client.post("/api/v1/alerts", json=alert(**fields), headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return str(resp.json()["items"][0]["incidentId"])


def incident(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> dict[str, Any]:
    resp = client.get(f"/api/v1/incidents/{incident_id}", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_answered_question_runs_the_branch_and_hands_back(
    client: httpx.Client, soar_tenant: TenantKeys
) -> None:
    t = soar_tenant
    incident_id = ingest_incident(client, t, severity=3, hostname=f"h-{uuid.uuid4().hex[:6]}")
    waiting = wait_for(
        lambda: incident(client, t, incident_id), lambda i: i["soarStatus"] == "WAITING_INPUT"
    )
    assert waiting["assignee"] == "SOAR" and waiting["assigneeName"] == "SOAR"
    assert waiting["severity"] == 4 and "soar" in waiting["tags"]
    assert waiting["soarTimeout"] is not None
    assert waiting["soarProcess"]["currentSoarOptions"] == ["block", "ignore"]
    assert waiting["soarProcess"]["currentSoarQuestion"] == (
        f"Block the host {waiting['incidentHash']}?"
    )

    bad = client.post(
        f"/api/v1/incidents/{incident_id}/soar/answer",
        json={"answer": "maybe"},
        headers=t.headers(),
    )
    assert_problem(bad, 400, "soar.bad_answer", "answer")
    ok = client.post(
        f"/api/v1/incidents/{incident_id}/soar/answer",
        json={"answer": "BLOCK"},
        headers=t.headers(),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["memory"]["decision"] == "block"

    done = wait_for(
        lambda: incident(client, t, incident_id), lambda i: i["soarStatus"] == "FINISHED"
    )
    assert done["assignee"] is None and done["soarTimeout"] is None  # handed back: unassigned
    comments = client.get(f"/api/v1/incidents/{incident_id}/comments", headers=t.headers())
    assert any("blocked on request of" in c["body"] for c in comments.json())

    process = client.get(f"/api/v1/soar/processes/{done['soarProcessId']}", headers=t.headers())
    assert process.status_code == 200
    steps = [(s["stepId"], s["outcome"]) for s in process.json()["steps"]]
    assert steps == [
        ("raise", "ok"),
        ("tag", "ok"),
        ("ask", "ok"),
        ("ask", "answered"),
        ("decide", "ok"),
        ("note", "ok"),
        ("done", "ok"),
    ]
    timeline = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=t.headers())
    actions = [e["action"] for e in timeline.json()]
    for expected in ("soar.selected", "soar.question_asked", "soar.answered", "soar.finished"):
        assert expected in actions, actions


def test_unanswered_question_falls_back_at_its_timeout_and_late_answers_are_refused(
    client: httpx.Client, soar_tenant: TenantKeys
) -> None:
    t = soar_tenant
    incident_id = ingest_incident(client, t, severity=4, hostname=f"h-{uuid.uuid4().hex[:6]}")
    waiting = wait_for(
        lambda: incident(client, t, incident_id), lambda i: i["soarStatus"] == "WAITING_INPUT"
    )
    done = wait_for(
        lambda: incident(client, t, incident_id),
        lambda i: i["soarStatus"] == "FINISHED",
        timeout=QUESTION_TIMEOUT_S + 10,
    )
    assert "escalated" in done["tags"]
    process = client.get(f"/api/v1/soar/processes/{done['soarProcessId']}", headers=t.headers())
    steps = process.json()["steps"]
    timed_out = next(s for s in steps if s["outcome"] == "timeout")
    fallback = next(s for s in steps if s["stepId"] == "escalate")
    due = waiting["soarTimeout"]
    lag = _seconds_between(due, fallback["startedAt"])
    assert 0 <= lag < 2.0, (due, fallback["startedAt"])
    assert timed_out["nextStepId"] == "escalate"
    late = client.post(
        f"/api/v1/incidents/{incident_id}/soar/answer",
        json={"answer": "block"},
        headers=t.headers(),
    )
    assert_problem(late, 409, "soar.no_question")


def test_incidents_the_criteria_do_not_match_are_left_alone_with_a_reason(
    client: httpx.Client, soar_tenant: TenantKeys
) -> None:
    t = soar_tenant
    incident_id = ingest_incident(client, t, severity=1, hostname=f"h-{uuid.uuid4().hex[:6]}")
    found = incident(client, t, incident_id)
    assert found["soarStatus"] == "NOT_PROCESSED" and found["soarProcess"] is None
    timeline = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=t.headers())
    skipped = [e for e in timeline.json() if e["action"] == "soar.not_selected"]
    assert len(skipped) == 1 and "block-" in skipped[0]["reason"]


def test_failed_run_can_be_retried_and_a_run_cancelled(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    admin = tenant.headers(Role.TENANT_ADMIN)
    body = {
        "name": "needs-allowlist",
        "trigger": "manual",
        "steps": [
            {
                "id": "call",
                "kind": "action",
                "action": "http_request",
                "retries": 0,
                "params": {"url": "http://127.0.0.1:9/nothing"},
                "next": "ask",
            },
            {
                "id": "ask",
                "kind": "question",
                "question": "ok?",
                "answerMemory": "ok",
                "timeout": "1h",
            },
        ],
    }
    assert client.post("/api/v1/playbooks", json=body, headers=admin).status_code == 201
    incident_id = ingest_incident(client, tenant, severity=1, hostname=f"h-{uuid.uuid4().hex[:6]}")
    started = client.post(
        f"/api/v1/incidents/{incident_id}/soar/start",
        json={"playbook": "needs-allowlist"},
        headers=tenant.headers(),
    )
    assert started.status_code == 202, started.text
    process_id = started.json()["id"]
    failed = wait_for(
        lambda: client.get(f"/api/v1/soar/processes/{process_id}", headers=tenant.headers()).json(),
        lambda p: p["status"] == "FAILED",
    )
    assert "127.0.0.1" in failed["error"] and failed["currentStepId"] == "call"
    assert incident(client, tenant, incident_id)["soarStatus"] == "FAILED"

    again = client.post(f"/api/v1/soar/processes/{process_id}/start", headers=tenant.headers())
    assert again.status_code in (404, 405)
    allow = client.patch(
        f"/api/v1/tenants/{tenant.id}",
        headers=admin,
        json={"settings": {"soarAllowedHosts": ["127.0.0.1"]}},
    )
    assert allow.status_code == 200, allow.text
    retried = client.post(f"/api/v1/soar/processes/{process_id}/retry", headers=tenant.headers())
    assert retried.status_code == 200, retried.text
    # the port is closed, so the call fails again, now for the connection, not the allow-list
    failed_again = wait_for(
        lambda: client.get(f"/api/v1/soar/processes/{process_id}", headers=tenant.headers()).json(),
        lambda p: p["status"] == "FAILED" and "allow" not in (p["error"] or ""),
    )
    assert failed_again["currentStepId"] == "call"
    not_active = client.post(
        f"/api/v1/soar/processes/{process_id}/cancel", headers=tenant.headers()
    )
    assert_problem(not_active, 409, "soar.not_active")


def test_other_tenants_cannot_see_or_steer_runs(
    client: httpx.Client, soar_tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    t = soar_tenant
    incident_id = ingest_incident(client, t, severity=3, hostname=f"h-{uuid.uuid4().hex[:6]}")
    waiting = wait_for(
        lambda: incident(client, t, incident_id), lambda i: i["soarStatus"] == "WAITING_INPUT"
    )
    process_id = waiting["soarProcessId"]
    other = other_tenant.headers()
    assert client.get(f"/api/v1/soar/processes/{process_id}", headers=other).status_code == 404
    assert (
        client.post(f"/api/v1/soar/processes/{process_id}/cancel", headers=other).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/incidents/{incident_id}/soar/answer", json={"answer": "block"}, headers=other
        ).status_code
        == 404
    )
    listed = client.get("/api/v1/soar/processes", headers=other).json()["items"]
    assert all(p["id"] != process_id for p in listed)
    cancelled = client.post(f"/api/v1/soar/processes/{process_id}/cancel", headers=t.headers())
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    after = incident(client, t, incident_id)
    assert after["soarStatus"] == "FAILED" and after["assignee"] is None


def _seconds_between(first: str, second: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(second) - datetime.fromisoformat(first)).total_seconds()


def test_a_child_playbook_runs_and_its_memory_lands_under_the_parent_step(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    admin = tenant.headers(Role.TENANT_ADMIN)
    child = {
        "name": "score",
        "trigger": "manual",
        "steps": [
            {
                "id": "x",
                "kind": "action",
                "action": "set_memory",
                "params": {"values": {"score": 7}},
            },
        ],
    }
    parent = {
        "name": "enrich-then-tag",
        "trigger": "manual",
        "steps": [
            {"id": "sub", "kind": "playbook", "playbook": "score", "next": "after"},
            {
                "id": "after",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["score-{{ memory.sub.score }}"]},
            },
        ],
    }
    for body in (child, parent):
        assert client.post("/api/v1/playbooks", json=body, headers=admin).status_code == 201
    incident_id = ingest_incident(client, tenant, severity=1, hostname=f"h-{uuid.uuid4().hex[:6]}")
    started = client.post(
        f"/api/v1/incidents/{incident_id}/soar/start",
        json={"playbook": "enrich-then-tag"},
        headers=tenant.headers(),
    )
    assert started.status_code == 202, started.text
    done = wait_for(
        lambda: incident(client, tenant, incident_id),
        lambda i: i["soarStatus"] in ("FINISHED", "FAILED"),
    )
    assert done["soarStatus"] == "FINISHED" and "score-7" in done["tags"]
    runs = client.get(
        "/api/v1/soar/processes", params={"incidentId": incident_id}, headers=tenant.headers()
    ).json()["items"]
    assert len(runs) == 2  # the parent and exactly one child
    parent_run = next(r for r in runs if r["parentProcessId"] is None)
    child_run = next(r for r in runs if r["parentProcessId"] == parent_run["id"])
    assert child_run["status"] == "FINISHED" and parent_run["memory"]["sub"]["score"] == 7


def test_criteria_see_the_alerts_of_an_incident_opened_by_ingest(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    host = f"crit-{uuid.uuid4().hex[:6]}"
    body = {
        "name": "by-alert-host",
        "trigger": "incident",
        "criteria": f'alerts.hostname = "{host}"',
        "steps": [{"id": "t", "kind": "action", "action": "add_tags", "params": {"tags": ["hit"]}}],
    }
    resp = client.post("/api/v1/playbooks", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 201, resp.text
    matching = ingest_incident(client, tenant, severity=2, hostname=host)
    other = ingest_incident(client, tenant, severity=2, hostname=f"{host}-not")
    done = wait_for(
        lambda: incident(client, tenant, matching), lambda i: i["soarStatus"] == "FINISHED"
    )
    assert "hit" in done["tags"]
    assert incident(client, tenant, other)["soarStatus"] == "NOT_PROCESSED"
