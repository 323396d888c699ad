"""Gamebooks: the incident's SOAR runs as ContraForce shows them; 404 before any ran."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from muster.models.enums import Role
from tests.api.apicalls import wait_for
from tests.compat.contraforce.conftest import MakeV2, incident_id
from tests.compat.contraforce.test_v2 import data, problem
from tests.factories import TenantKeys


def tagging_playbook(name: str) -> dict[str, Any]:
    """A manual playbook that tags the incident and ends."""
    return {
        "name": name,
        "trigger": "manual",
        "weight": 1,
        "steps": [
            {
                "id": "tag",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["gamebook"]},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


def test_last_gamebook_after_a_playbook_ran(
    v2: MakeV2, client: httpx.Client, tenant: TenantKeys
) -> None:
    ident = incident_id(client, tenant)
    ws = str(tenant.id)
    cf = v2(tenant.keys[Role.VIEWER])
    problem(cf.sub("GET", ws, ident, "last-gamebook"), 404, "NOT_FOUND")
    assert data(cf.http.get(f"/workspaces/{ws}/gamebooks/by-incident/{ident}")) == []

    name = f"tagger-{uuid.uuid4().hex[:6]}"
    made = client.post(
        "/api/v1/playbooks", json=tagging_playbook(name), headers=tenant.headers(Role.TENANT_ADMIN)
    )
    assert made.status_code == 201, made.text
    started = client.post(
        f"/api/v1/incidents/{ident}/soar/start", json={"playbook": name}, headers=tenant.headers()
    )
    assert started.status_code == 202, started.text
    process = started.json()

    def last() -> dict[str, Any]:
        resp = cf.sub("GET", ws, ident, "last-gamebook")
        return dict(data(resp))

    book = wait_for(last, lambda b: b["status"] == "Completed")
    assert book["id"] == process["id"] and book["tracingId"] == process["processHash"]
    assert book["incidentId"] == ident and book["workspaceId"] == ws
    assert book["workspaceName"] == tenant.name and book["displayName"] == name
    assert book["isAutoRun"] is False and book["isQueued"] is False
    steps = book["playbooks"]
    assert [s["referenceId"] for s in steps][:1] == ["tag"]
    assert steps[0]["name"] == "add_tags" and steps[0]["status"] == "Completed"
    assert [s["sequence"] for s in steps] == list(range(1, len(steps) + 1))
    every = data(cf.http.get(f"/workspaces/{ws}/gamebooks/by-incident/{ident}"))
    assert [b["id"] for b in every] == [process["id"]]
