"""The incident page's SOAR panel over real HTTP, with the test server's embedded worker:
the pending question with its options and countdown, answering it, cancelling and retrying."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import wait_for
from tests.factories import TenantKeys, alert
from tests.web.conftest import api_incident, page_token

OPTIONS = ["block", "ignore"]


def question_playbook(name: str) -> dict[str, Any]:
    """Ask whether to block (an hour to answer); block → comment."""
    return {
        "name": name,
        "trigger": "incident",
        "criteria": "severity >= 3",
        "weight": 10,
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": "Block the host {{ incident.incidentHash }}?",
                "options": OPTIONS,
                "answerMemory": "decision",
                "timeout": "1h",
                "onTimeout": "done",
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
            {"id": "done", "kind": "end"},
        ],
    }


@pytest.fixture()
def waiting(client: httpx.Client, tenant: TenantKeys) -> dict[str, Any]:
    """An incident whose playbook waits for an answer (as the API shows it)."""
    resp = client.post(
        "/api/v1/playbooks",
        json=question_playbook(f"ask-{uuid.uuid4().hex[:6]}"),
        headers=tenant.headers(Role.TENANT_ADMIN),
    )
    assert resp.status_code == 201, resp.text
    body = alert(severity=3, hostname=f"h-{uuid.uuid4().hex[:8]}")
    ingested = client.post("/api/v1/alerts", json=body, headers=tenant.headers())
    incident_id = ingested.json()["items"][0]["incidentId"]
    return wait_for(
        lambda: api_incident(client, tenant, incident_id),
        lambda i: i["soarStatus"] == "WAITING_INPUT",
    )


def soar_post(web: httpx.Client, incident_id: str, action: str, **data: str) -> httpx.Response:
    token = page_token(web, f"/ui/incidents/{incident_id}")
    return web.post(
        f"/ui/incidents/{incident_id}/soar/{action}", data={"csrf_token": token, **data}
    )


def test_the_pending_question_is_shown_with_its_options_and_countdown(
    web: httpx.Client, waiting: dict[str, Any]
) -> None:
    page = web.get(f"/ui/incidents/{waiting['id']}").text
    assert re.search(r'id="soar-status">WAITING_INPUT<', page)
    assert f"Block the host {waiting['incidentHash']}?" in page
    buttons = re.findall(
        r'<button type="submit" class="soar-option" name="answer" value="([^"]+)"', page
    )
    assert buttons == OPTIONS
    countdown = re.search(
        r'id="soar-countdown" class="countdown" data-deadline="([^"]+)">([^<]+)<', page
    )
    assert countdown is not None
    timeout = datetime.fromisoformat(waiting["soarTimeout"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(countdown.group(1)) == timeout
    assert countdown.group(2).endswith("left") and countdown.group(2).startswith(("59m", "1h"))
    assert 'id="soar-cancel"' in page and 'id="soar-retry"' not in page
    assert re.search(r'id="soar-playbook">ask-', page)
    steps = re.search(r'<table id="soar-steps".*?</table>', page, re.S)
    assert steps is not None and "<td>ask</td><td>question</td>" in steps.group(0)


def test_answering_runs_the_branch(
    web: httpx.Client,
    client: httpx.Client,
    tenant: TenantKeys,
    waiting: dict[str, Any],
    web_user: tuple[str, str],
) -> None:
    resp = soar_post(web, waiting["id"], "answer", answer="block")
    assert resp.status_code == 303 and resp.headers["location"].endswith("#soar")
    done = wait_for(
        lambda: api_incident(client, tenant, waiting["id"]), lambda i: i["soarStatus"] == "FINISHED"
    )
    assert done["soarTimeout"] is None
    comments = client.get(f"/api/v1/incidents/{waiting['id']}/comments", headers=tenant.headers())
    assert any(c["body"].startswith("blocked on request of") for c in comments.json())
    page = web.get(f"/ui/incidents/{waiting['id']}").text
    assert 'id="soar-question"' not in page and "soar.answered" in page


def test_an_answer_outside_the_options_is_refused(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys, waiting: dict[str, Any]
) -> None:
    resp = soar_post(web, waiting["id"], "answer", answer="shrug")
    assert resp.status_code == 400 and "block" in resp.text
    assert api_incident(client, tenant, waiting["id"])["soarStatus"] == "WAITING_INPUT"


def test_cancel_stops_the_run(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys, waiting: dict[str, Any]
) -> None:
    assert soar_post(web, waiting["id"], "cancel").status_code == 303
    process = client.get(
        f"/api/v1/soar/processes/{waiting['soarProcessId']}", headers=tenant.headers()
    ).json()
    assert process["status"] == "CANCELLED"
    again = soar_post(web, waiting["id"], "cancel")
    assert again.status_code == 409


def test_a_failed_run_is_retried_from_the_page(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    body = {
        "name": f"call-{uuid.uuid4().hex[:6]}",
        "trigger": "manual",
        "steps": [
            {
                "id": "call",
                "kind": "action",
                "action": "http_request",
                "retries": 0,
                "params": {"url": "http://127.0.0.1:9/nothing"},
            }
        ],
    }
    admin = tenant.headers(Role.TENANT_ADMIN)
    assert client.post("/api/v1/playbooks", json=body, headers=admin).status_code == 201
    ingested = client.post("/api/v1/alerts", json=alert(severity=1), headers=tenant.headers())
    incident_id = ingested.json()["items"][0]["incidentId"]
    started = client.post(
        f"/api/v1/incidents/{incident_id}/soar/start",
        json={"playbook": body["name"]},
        headers=tenant.headers(),
    )
    assert started.status_code == 202, started.text
    wait_for(
        lambda: api_incident(client, tenant, incident_id), lambda i: i["soarStatus"] == "FAILED"
    )
    page = web.get(f"/ui/incidents/{incident_id}").text
    assert 'id="soar-retry"' in page and 'id="soar-cancel"' not in page
    assert 'id="soar-error"' in page
    assert soar_post(web, incident_id, "retry").status_code == 303
    timeline = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=tenant.headers())
    assert "soar.retried" in [e["action"] for e in timeline.json()]
