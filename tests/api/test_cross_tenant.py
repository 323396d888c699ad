"""Tenant isolation over HTTP: another tenant's ids answer 404 everywhere, lists never leak."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    get_alert,
    get_incident,
    ingest,
    list_all,
    timeline,
)
from tests.factories import TenantKeys


@pytest.fixture()
def owned(client: httpx.Client, tenant: TenantKeys) -> dict[str, Any]:
    """Tenant A's things: an incident with an alert and a comment, a rule, a user, a key."""
    item = ingest(client, tenant)
    admin = tenant.headers(Role.TENANT_ADMIN)
    comment = client.post(
        f"/api/v1/incidents/{item['incidentId']}/comments",
        json={"body": "mine"},
        headers=tenant.headers(),
    )
    assert comment.status_code == 201
    (user,) = client.get("/api/v1/users", headers=admin).json()
    return {
        "incident": get_incident(client, tenant, item["incidentId"]),
        "alert": get_alert(client, tenant, item["alertId"]),
        "rule": client.get("/api/v1/grouping-rules", headers=admin).json()[0],
        "user": user,
        "key": client.get("/api/v1/apikeys", headers=admin).json()[0],
        "timeline": timeline(client, tenant, item["incidentId"]),
    }


def test_other_tenant_ids_are_404(
    client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys, owned: dict[str, Any]
) -> None:
    incident, alert_ = owned["incident"], owned["alert"]
    inc, al = incident["id"], alert_["id"]
    mine = create_incident(client, other_tenant)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/incidents/{inc}", None),
        ("PATCH", f"/api/v1/incidents/{inc}", {"severity": 1}),
        (
            "PATCH",
            f"/api/v1/incidents/{inc}",
            {"status": "RESOLVED", "resolution": "FALSE_POSITIVE"},
        ),
        ("GET", f"/api/v1/incidents/by-hash/{incident['incidentHash']}", None),
        ("GET", f"/api/v1/incidents/{inc}/comments", None),
        ("POST", f"/api/v1/incidents/{inc}/comments", {"body": "sneaky"}),
        ("GET", f"/api/v1/incidents/{inc}/timeline", None),
        ("POST", f"/api/v1/incidents/{inc}/merge", {"incidentIds": [mine["id"]]}),
        ("POST", f"/api/v1/incidents/{mine['id']}/merge", {"incidentIds": [inc]}),
        ("POST", "/api/v1/incidents", {"description": "steal", "alertIds": [al]}),
        ("GET", f"/api/v1/alerts/{al}", None),
        ("POST", f"/api/v1/alerts/{al}/move", {"incidentId": mine["id"]}),
        ("GET", f"/api/v1/grouping-rules/{owned['rule']['id']}", None),
        ("PATCH", f"/api/v1/grouping-rules/{owned['rule']['id']}", {"maxAlerts": 1}),
        ("DELETE", f"/api/v1/grouping-rules/{owned['rule']['id']}", None),
        ("GET", f"/api/v1/users/{owned['user']['id']}", None),
        ("PATCH", f"/api/v1/users/{owned['user']['id']}", {"name": "Mallory"}),
        ("DELETE", f"/api/v1/users/{owned['user']['id']}", None),
        ("DELETE", f"/api/v1/apikeys/{owned['key']['id']}", None),
        ("GET", f"/api/v1/tenants/{tenant.id}", None),
        ("PATCH", f"/api/v1/tenants/{tenant.id}", {"name": "pwned"}),
    ]
    admin = other_tenant.headers(Role.TENANT_ADMIN)
    for method, path, body in calls:
        resp = client.request(method, path, json=body, headers=admin)
        assert_problem(resp, 404)
    # moving one's own alert into A's incident is refused too
    theirs = ingest(client, other_tenant)
    resp = client.post(
        f"/api/v1/alerts/{theirs['alertId']}/move", json={"incidentId": inc}, headers=admin
    )
    assert_problem(resp, 404)
    # A's data is untouched
    assert get_incident(client, tenant, inc) == incident
    assert get_alert(client, tenant, al) == alert_
    a_admin = tenant.headers(Role.TENANT_ADMIN)
    assert (
        client.get(f"/api/v1/grouping-rules/{owned['rule']['id']}", headers=a_admin).json()
        == owned["rule"]
    )
    assert (
        client.get(f"/api/v1/users/{owned['user']['id']}", headers=a_admin).json() == owned["user"]
    )
    assert client.get(f"/api/v1/tenants/{tenant.id}", headers=a_admin).json()["name"] == tenant.name
    assert client.get("/api/v1/incidents", headers=tenant.headers(Role.VIEWER)).status_code == 200
    assert timeline(client, tenant, inc) == owned["timeline"]
    comments = client.get(f"/api/v1/incidents/{inc}/comments", headers=tenant.headers()).json()
    assert [c["body"] for c in comments] == ["mine"]
    # B's side is unchanged as well: nothing was created or merged
    assert [i["id"] for i in list_all(client, "/api/v1/incidents", admin)] == [
        theirs["incidentId"],
        mine["id"],
    ]
    assert get_incident(client, other_tenant, mine["id"])["status"] == "OPEN"


def test_lists_never_show_other_tenants(
    client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys, owned: dict[str, Any]
) -> None:
    ingest(client, other_tenant)
    b = other_tenant.headers(Role.TENANT_ADMIN)
    incidents = list_all(client, "/api/v1/incidents", b)
    alerts = list_all(client, "/api/v1/alerts", b)
    assert incidents and alerts
    assert {i["tenantId"] for i in incidents} == {str(other_tenant.id)}
    assert {a["tenantId"] for a in alerts} == {str(other_tenant.id)}
    assert owned["incident"]["id"] not in {i["id"] for i in incidents}
    assert owned["alert"]["id"] not in {a["id"] for a in alerts}
    for params in (
        {"q": owned["incident"]["incidentHash"]},
        {"q": f"#{owned['incident']['number']}"},
        {"source": owned["incident"]["source"]},
        {"tag": "x"},
    ):
        found = {i["id"] for i in list_all(client, "/api/v1/incidents", b, **params)}
        assert owned["incident"]["id"] not in found
    by_incident = list_all(client, "/api/v1/alerts", b, incidentId=owned["incident"]["id"])
    assert by_incident == []
    rules = client.get("/api/v1/grouping-rules", headers=b).json()
    assert owned["rule"]["id"] not in {r["id"] for r in rules}
    assert {r["tenantId"] for r in rules} == {str(other_tenant.id)}
    users = client.get("/api/v1/users", headers=b).json()
    assert {u["email"] for u in users} == {other_tenant.member_email}
    keys = client.get("/api/v1/apikeys", headers=b).json()
    assert {k["tenantId"] for k in keys} == {str(other_tenant.id)}
    assert [t["id"] for t in client.get("/api/v1/tenants", headers=b).json()] == [
        str(other_tenant.id)
    ]


def test_cursor_from_another_tenant_reveals_nothing(
    client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    for _ in range(3):
        create_incident(client, tenant)
    cursor = client.get("/api/v1/incidents", params={"limit": 1}, headers=tenant.headers()).json()[
        "nextCursor"
    ]
    assert cursor
    resp = client.get(
        "/api/v1/incidents", params={"limit": 10, "cursor": cursor}, headers=other_tenant.headers()
    )
    assert resp.status_code == 200
    assert resp.json()["items"] == []


def test_unknown_ids_look_like_other_tenants_ids(
    client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys, owned: dict[str, Any]
) -> None:
    headers = other_tenant.headers()
    real = client.get(f"/api/v1/incidents/{owned['incident']['id']}", headers=headers).json()
    fake = client.get(f"/api/v1/incidents/{uuid.uuid4()}", headers=headers).json()
    assert real["code"] == fake["code"] == "incident.not_found"
    assert real["title"] == fake["title"] and real["status"] == fake["status"]
