from __future__ import annotations

import httpx

from muster.models.enums import Role
from tests.factories import TenantKeys, alert


def test_ingest_groups_and_reads_back(client: httpx.Client, tenant: TenantKeys) -> None:
    first = client.post("/api/v1/alerts", json=alert(), headers=tenant.headers())
    assert first.status_code == 200, first.text
    item = first.json()["items"][0]
    second = client.post("/api/v1/alerts", json=alert(severity=4), headers=tenant.headers())
    joined = second.json()["items"][0]
    assert joined["incidentId"] == item["incidentId"]
    assert joined["groupingReason"]["decision"] == "attached"
    incident = client.get(
        f"/api/v1/incidents/{item['incidentId']}", headers=tenant.headers(Role.VIEWER)
    ).json()
    assert incident["severity"] == 4
    assert len(incident["alerts"]) == 2
    assert incident["incidentHash"] == item["incidentHash"]
