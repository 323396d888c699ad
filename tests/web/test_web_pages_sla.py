"""The SLA dashboard over real HTTP: each chart's JSON block carries the figures the metrics
service computes (checked against `GET /api/v1/metrics/incidents` for the same window), the
policy table, and the open at-risk / breached counts linking to the queue."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import httpx

from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys, alert
from tests.web.conftest import add_member, assert_secure, login


def blocks(page: str) -> dict[str, Any]:
    """Every JSON script block of the page by id."""
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S)
    return {ident: json.loads(text) for ident, text in found}


def metrics(
    client: httpx.Client, headers: dict[str, str], chart: dict[str, Any], **params: str
) -> list[dict[str, Any]]:
    resp = client.get(
        "/api/v1/metrics/incidents",
        params={"from": chart["from"], "to": chart["to"], **params},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    groups: list[dict[str, Any]] = resp.json()["groups"]
    return groups


def handled_incidents(client: httpx.Client, tenant: TenantKeys, email: str) -> list[str]:
    """Four incidents: three responded to, two of them resolved."""
    resp = client.post(
        "/api/v1/alerts",
        json={
            "alerts": [
                alert(hostname=f"sla-{uuid.uuid4().hex[:8]}", severity=1 + n) for n in range(4)
            ]
        },
        headers=tenant.headers(),
    )
    assert resp.status_code == 200, resp.text
    ids = [i["incidentId"] for i in resp.json()["items"]]
    for n, incident in enumerate(ids[:3]):
        change: dict[str, Any] = {"assignee": email, "status": "UNDER_INVESTIGATION"}
        patched = client.patch(
            f"/api/v1/incidents/{incident}", json=change, headers=tenant.headers()
        )
        assert patched.status_code == 200, patched.text
        if n < 2:
            done = {"status": "RESOLVED", "resolution": "TRUE_POSITIVE"}
            patched = client.patch(
                f"/api/v1/incidents/{incident}", json=done, headers=tenant.headers()
            )
            assert patched.status_code == 200, patched.text
    return ids


def test_charts_carry_the_metrics_services_figures(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys, web_user: tuple[str, str]
) -> None:
    handled_incidents(client, tenant, web_user[0])
    page = web.get("/ui/sla")
    assert page.status_code == 200
    assert_secure(page)
    for canvas in ("mtta-chart", "mttr-chart", "breaches-chart"):
        assert f'<canvas id="{canvas}"' in page.text
    assert "<script>" not in page.text  # data only in JSON blocks, code only in files
    data = blocks(page.text)
    by_day = metrics(client, tenant.headers(), data["mtta-data"], groupBy="period", period="day")
    assert sum(g["opened"] for g in by_day) == 4
    for figure, block in (("mttaSeconds", "mtta-data"), ("mttrSeconds", "mttr-data")):
        chart = data[block]
        assert chart["from"] == data["mtta-data"]["from"]
        median, mean = chart["series"][0]["data"], chart["series"][1]["data"]
        expected = {g["key"]["period"]: g[figure] for g in by_day}
        shown = {
            day: {"median": median[i], "mean": mean[i]}
            for i, day in enumerate(chart["labels"])
            if median[i] is not None or mean[i] is not None
        }
        assert shown == {
            day: {"median": f["median"], "mean": f["mean"]}
            for day, f in expected.items()
            if f["median"] is not None or f["mean"] is not None
        }
        assert shown, f"{figure}: the responded incidents were measured"
    assert len(data["mtta-data"]["labels"]) in (30, 31)  # every day of the window
    by_severity = metrics(client, tenant.headers(), data["breaches-data"], groupBy="severity")
    breaches = data["breaches-data"]
    assert breaches["keys"] == [str(g["key"]["severity"]) for g in by_severity]
    assert breaches["series"][0]["data"] == [g["breached"] for g in by_severity]
    assert breaches["series"][1]["data"] == [g["opened"] for g in by_severity]


def test_policy_and_open_counts_link_to_the_queue(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    policy = client.put(
        "/api/v1/sla/policy",
        json={
            "targets": {
                "HIGH": {"response": "10m", "resolution": "2h"},
                "MEDIUM": {"response": "1h", "resolution": "1d"},
                "LOW": {"response": "4h", "resolution": "2d"},
                "INFORMATIONAL": {"response": "1d", "resolution": "5d"},
            }
        },
        headers=tenant.headers(Role.TENANT_ADMIN),
    )
    assert policy.status_code == 200, policy.text
    page = web.get("/ui/sla")
    row = re.search(r'<tr data-severity="4">(.*?)</tr>', page.text, re.S)
    assert row is not None and ">10m<" in row.group(1) and ">2h<" in row.group(1)
    for state in ("at_risk", "breached"):
        listed = client.get(
            "/api/v1/incidents", params={"slaState": state, "limit": 500}, headers=tenant.headers()
        )
        assert listed.status_code == 200, listed.text
        open_ones = [i for i in listed.json()["items"] if i["status"] != "RESOLVED"]
        item = re.search(rf'<li class="sla-count" data-state="{state}">(.*?)</li>', page.text, re.S)
        assert item is not None
        assert f'href="/ui/queue?slaState={state}"' in item.group(1)
        assert f"<strong>{len(open_ones)}</strong>" in item.group(1)


def test_a_viewer_reads_the_dashboard(base_url: str, db: Database, tenant: TenantKeys) -> None:
    email, password = add_member(db, tenant.id, Role.VIEWER)
    with httpx.Client(base_url=base_url) as http:
        assert login(http, email, password).status_code == 303
        assert http.get("/ui/sla").status_code == 200


def test_the_all_tenants_view_adds_breaches_by_tenant(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys, global_key: str
) -> None:
    handled_incidents(client, tenant, tenant.member_email)
    email, password = add_member(db, tenant.id, Role.GLOBAL_ADMIN)
    with httpx.Client(base_url=base_url) as http:
        assert login(http, email, password).status_code == 303
        page = http.get("/ui/sla")
        assert page.status_code == 200 and "all tenants" in page.text
        data = blocks(page.text)
        chart = data["breaches-tenant-data"]
        by_tenant = metrics(
            client,
            {"Authorization": f"Bearer {global_key}"},
            chart,
            groupBy="tenant",
            scope="all",
        )
        ours = next(g for g in by_tenant if g["key"]["tenantId"] == str(tenant.id))
        at = chart["keys"].index(str(tenant.id))
        assert chart["labels"][at] == tenant.name
        assert chart["series"][1]["data"][at] == ours["opened"] == 4
        assert 'id="sla-counts"' not in page.text  # counts follow one tenant's policy
    assert html.escape(tenant.name) in page.text
