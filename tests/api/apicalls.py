"""Small HTTP helpers shared by the API tests: calls that every module makes, and checks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.factories import TenantKeys, alert

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code"}

# DESIGN.md §1: every seed field of the Incident resource, by its JSON name.
INCIDENT_SEED_FIELDS = {
    "id",
    "description",
    "details",
    "severity",
    "assignee",
    "assigneeName",
    "status",
    "resolution",
    "resolutionComment",
    "source",
    "mitreTactic",
    "mitreTechnique",
    "groupingAllowed",
    "excludeFromSLA",
    "incidentHash",
    "respondedAt",
    "resolvedAt",
    "tags",
    "soarProcessId",
    "soarProcess",
    "soarStatus",
    "soarTimeout",
    "alerts",
    "tenant",
    "tenantId",
    "createdAt",
    "updatedAt",
}


def assert_problem(
    resp: httpx.Response, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """Check an RFC 7807 problem answer; `field` must be named by `errors[].field` or detail."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["instance"] == resp.request.url.path
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    if field is not None:
        fields = [e.get("field", "") for e in body.get("errors", [])]
        assert any(field in f for f in fields) or field in body["detail"], body
    return body


def ts(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def global_headers(global_key: str, tenant_id: uuid.UUID | str | None = None) -> dict[str, str]:
    """Headers of a global key, acting in `tenant_id` when given."""
    headers = {"Authorization": f"Bearer {global_key}"}
    if tenant_id is not None:
        headers["X-Muster-Tenant"] = str(tenant_id)
    return headers


def post_alerts(
    client: httpx.Client, tenant: TenantKeys, *bodies: dict[str, Any], batch: bool | None = None
) -> dict[str, Any]:
    """Ingest one alert (object body) or several (`{"alerts": [...]}`); return the answer."""
    as_batch = len(bodies) != 1 if batch is None else batch
    payload: Any = {"alerts": list(bodies)} if as_batch else bodies[0]
    resp = client.post("/api/v1/alerts", json=payload, headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    assert len(answer["items"]) == len(bodies)
    return answer


def ingest(client: httpx.Client, tenant: TenantKeys, **over: Any) -> dict[str, Any]:
    """Ingest `alert(**over)` alone and return its answer item."""
    item: dict[str, Any] = post_alerts(client, tenant, alert(**over))["items"][0]
    return item


def get_incident(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> dict[str, Any]:
    """Read one incident (detail view) as a viewer."""
    resp = client.get(f"/api/v1/incidents/{incident_id}", headers=tenant.headers(Role.VIEWER))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def get_alert(client: httpx.Client, tenant: TenantKeys, alert_id: str) -> dict[str, Any]:
    """Read one alert (with raw) as a viewer."""
    resp = client.get(f"/api/v1/alerts/{alert_id}", headers=tenant.headers(Role.VIEWER))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def create_incident(client: httpx.Client, tenant: TenantKeys, **fields: Any) -> dict[str, Any]:
    """Open a manual incident; `description` defaults to a unique title."""
    body = {"description": f"manual {uuid.uuid4().hex[:8]}", **fields}
    resp = client.post("/api/v1/incidents", json=body, headers=tenant.headers())
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def patch_incident(
    client: httpx.Client, tenant: TenantKeys, incident_id: str, **fields: Any
) -> httpx.Response:
    """PATCH an incident as an analyst (no If-Match)."""
    return client.patch(f"/api/v1/incidents/{incident_id}", json=fields, headers=tenant.headers())


def timeline(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> list[dict[str, Any]]:
    """The incident's timeline, oldest first."""
    resp = client.get(
        f"/api/v1/incidents/{incident_id}/timeline", headers=tenant.headers(Role.VIEWER)
    )
    assert resp.status_code == 200, resp.text
    data: list[dict[str, Any]] = resp.json()
    return data


def list_all(
    client: httpx.Client, path: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every item of a paged list, following `nextCursor`."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = client.get(path, params=query, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def key_actor(client: httpx.Client, tenant: TenantKeys, role: Role = Role.ANALYST) -> str:
    """The timeline actor id of the tenant's key for `role` (`apikey:<id>`)."""
    prefix = tenant.keys[role].split("_")[1]
    resp = client.get("/api/v1/apikeys", headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 200, resp.text
    (key,) = [k for k in resp.json() if k["prefix"] == prefix]
    return f"apikey:{key['id']}"


def assert_serving(client: httpx.Client, tenant: TenantKeys) -> None:
    """The server still ingests and reads back a good alert."""
    item = ingest(client, tenant, hostname=f"alive-{uuid.uuid4().hex[:8]}")
    assert get_alert(client, tenant, item["alertId"])["id"] == item["alertId"]


def wait_for(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 20.0,
    every: float = 0.1,
) -> dict[str, Any]:
    """Poll until `done(fetch())` (the server's worker works in the background); return the
    last answer, or fail the test with it on timeout."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = fetch()
        if done(last):
            return last
        time.sleep(every)
    pytest.fail(f"condition not reached in {timeout}s; last answer: {last}")
