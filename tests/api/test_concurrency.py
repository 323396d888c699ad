"""Concurrent requests: nothing silently overwritten, nothing duplicated."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from muster.db.engine import Database
from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    get_alert,
    get_incident,
    ingest,
    list_all,
)
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


def _lock_waits(db: Database) -> int:
    """Backends of this database waiting for a lock now."""
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        )


def test_edits_without_if_match_wait_for_an_ingest_instead_of_failing(
    backend: str, base_url: str, client: httpx.Client, tenant: TenantKeys, db: Database
) -> None:
    """An ingest in another process has absorbed alerts into two incidents and not yet
    committed. A PATCH and a first comment on one, and a merge into the other, all without
    If-Match, wait for it and then apply to its version: none answers 412."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: an edit cannot overlap an ingest's transaction")
    patched = ingest(client, tenant, hostname=f"h-{uuid.uuid4().hex[:8]}")["incidentId"]
    target = ingest(client, tenant, hostname=f"h-{uuid.uuid4().hex[:8]}")["incidentId"]
    merged = create_incident(client, tenant)["id"]
    before = {i: get_incident(client, tenant, i)["version"] for i in (patched, target)}
    calls = [
        ("PATCH", f"/api/v1/incidents/{patched}", {"details": "edited meanwhile"}),
        ("POST", f"/api/v1/incidents/{patched}/comments", {"body": "looking"}),
        ("POST", f"/api/v1/incidents/{target}/merge", {"incidentIds": [merged]}),
    ]

    def call(method: str, url: str, body: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return own.request(method, url, json=body, headers=tenant.headers())

    with db.engine.connect() as ingest_tx, ThreadPoolExecutor(len(calls)) as pool:
        ingest_tx.execute(  # what ingest's absorb does to the incidents it adds alerts to
            text(
                "UPDATE incidents SET alert_count = alert_count + 1, version = version + 1 "
                "WHERE id IN (:a, :b)"
            ),
            {"a": uuid.UUID(patched), "b": uuid.UUID(target)},
        )
        waiting = [pool.submit(call, *c) for c in calls]
        deadline = time.monotonic() + 20
        while _lock_waits(db) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _lock_waits(db) == len(calls), "the edits did not reach the ingest's lock"
        ingest_tx.commit()
        answers = [future.result() for future in waiting]
    assert [r.status_code for r in answers] == [200, 201, 200], [r.text for r in answers]
    after = get_incident(client, tenant, patched)
    assert after["details"] == "edited meanwhile"
    assert after["alertCount"] == 2  # the ingest's change stands beside the edits
    assert after["version"] > before[patched] + 1
    merged_into = get_incident(client, tenant, target)
    assert merged_into["version"] > before[target] + 1
    assert get_incident(client, tenant, merged)["status"] == "RESOLVED"
