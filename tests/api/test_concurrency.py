"""Concurrent requests: nothing silently overwritten, nothing duplicated."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from muster.models.enums import Role
from tests.api.apicalls import assert_problem, create_incident, get_alert, get_incident, list_all
from tests.factories import TenantKeys, alert

WORKERS = 8


def test_concurrent_patches_with_one_etag(
    base_url: str, client: httpx.Client, tenant: TenantKeys
) -> None:
    made = create_incident(client, tenant, severity=1)
    url = f"/api/v1/incidents/{made['id']}"
    etag = client.get(url, headers=tenant.headers()).headers["ETag"]

    def change(n: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return own.patch(
                url, json={"details": f"writer {n}"}, headers={**tenant.headers(), "If-Match": etag}
            )

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(change, range(WORKERS)))
    winners = [r for r in answers if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in answers]
    for loser in answers:
        if loser.status_code != 200:
            assert_problem(loser, 412)
    final = get_incident(client, tenant, made["id"])
    assert final["details"] == winners[0].json()["details"]
    assert final["version"] == made["version"] + 1


def test_concurrent_resends_store_one_alert(
    base_url: str, client: httpx.Client, tenant: TenantKeys
) -> None:
    body = alert()

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return own.post("/api/v1/alerts", json=body, headers=tenant.headers())

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, range(WORKERS)))
    assert [r.status_code for r in answers] == [200] * WORKERS, [r.text for r in answers]
    items = [r.json()["items"][0] for r in answers]
    assert len({i["alertId"] for i in items}) == 1
    assert len({i["incidentId"] for i in items}) == 1
    assert sorted(i["duplicate"] for i in items) == [False] + [True] * (WORKERS - 1)
    stored = list_all(client, "/api/v1/alerts", tenant.headers(Role.VIEWER))
    assert len(stored) == 1
    assert get_alert(client, tenant, stored[0]["id"])["occurrences"] == WORKERS


def test_concurrent_alerts_of_one_key_share_an_incident(
    base_url: str, client: httpx.Client, tenant: TenantKeys
) -> None:
    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return own.post("/api/v1/alerts", json=alert(), headers=tenant.headers())

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, range(WORKERS)))
    assert [r.status_code for r in answers] == [200] * WORKERS, [r.text for r in answers]
    incidents = {r.json()["items"][0]["incidentId"] for r in answers}
    assert len(incidents) == 1
    (incident_id,) = incidents
    assert get_incident(client, tenant, incident_id)["alertCount"] == WORKERS
