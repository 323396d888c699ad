"""The alert search page over real HTTP: filters, links to incidents, keyset paging, tenancy,
bad filters, and attacker-controlled text shown escaped."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys, alert
from tests.web.conftest import add_member, assert_secure, login

ROW = re.compile(r'<tr data-alert-id="([0-9a-f-]{36})">(.*?)</tr>', re.S)


def result_rows(page: str) -> dict[str, str]:
    """alert id -> its row's HTML, from `table#alerts-results`."""
    table = re.search(r'<table id="alerts-results".*?</table>', page, re.S)
    assert table is not None, page
    return dict(ROW.findall(table.group(0)))


def ingest(
    client: httpx.Client, tenant: TenantKeys, *alerts: dict[str, object]
) -> list[dict[str, Any]]:
    resp = client.post("/api/v1/alerts", json={"alerts": list(alerts)}, headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def test_search_by_host_links_each_alert_to_its_incident(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    host = f"host-{uuid.uuid4().hex[:8]}"
    (mine, _other) = ingest(
        client,
        tenant,
        alert(hostname=host, ruleName="found rule", severity=3),
        alert(hostname=f"else-{uuid.uuid4().hex[:6]}", ruleName="other rule"),
    )
    page = web.get("/ui/alerts", params={"hostname": host})
    assert page.status_code == 200
    assert_secure(page)
    assert 'id="alert-search"' in page.text
    rows = result_rows(page.text)
    assert list(rows) == [mine["alertId"]]
    row = rows[mine["alertId"]]
    assert f'href="/ui/incidents/{mine["incidentId"]}"' in row
    assert "found rule" in row and host in row and "Medium" in row
    assert f'value="{host}"' in page.text  # the form keeps the search


def test_filter_language_and_severity(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    marker = uuid.uuid4().hex[:8]
    items = ingest(
        client,
        tenant,
        *(alert(hostname=f"f-{marker}", severity=s, ruleName=f"r{s}-{marker}") for s in (1, 4)),
    )
    by_filter = web.get(
        "/ui/alerts", params={"filter": f'hostname = "f-{marker}" and severity >= 3'}
    )
    assert list(result_rows(by_filter.text)) == [items[1]["alertId"]]
    by_field = web.get("/ui/alerts", params={"hostname": f"f-{marker}", "severity": "1"})
    assert list(result_rows(by_field.text)) == [items[0]["alertId"]]


def test_a_bad_filter_is_shown_not_a_crash(web: httpx.Client) -> None:
    page = web.get("/ui/alerts", params={"filter": "severity >>> ("})
    assert page.status_code == 400
    assert 'role="alert"' in page.text and 'id="alerts-results"' in page.text
    assert web.get("/ui/alerts", params={"severity": "9"}).status_code == 400
    assert web.get("/ui/alerts", params={"severity": "²"}).status_code == 400  # int() refuses


def test_keyset_paging_walks_every_alert_once(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    host = f"many-{uuid.uuid4().hex[:8]}"
    items = ingest(client, tenant, *(alert(hostname=host, externalId=f"e{n}") for n in range(53)))
    seen: list[str] = []
    url: str | None = f"/ui/alerts?hostname={host}"
    pages = 0
    while url:
        page = web.get(url)
        assert page.status_code == 200
        seen += list(result_rows(page.text))
        found = re.search(r'<a id="next-page" href="([^"]+)"', page.text)
        url = html.unescape(found.group(1)) if found else None
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(i["alertId"] for i in items)


def test_another_tenants_alerts_are_not_found(
    web: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
) -> None:
    host = f"theirs-{uuid.uuid4().hex[:8]}"
    ingest(client, other_tenant, alert(hostname=host))
    assert result_rows(web.get("/ui/alerts", params={"hostname": host}).text) == {}


def test_attacker_strings_come_back_escaped(
    web: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    marker = uuid.uuid4().hex[:8]
    rule = f"<script>alert('{marker}')</script>"
    host = f'"><img src=x onerror=alert(1)>{marker}'
    ingest(client, tenant, alert(ruleName=rule, hostname=host))
    page = web.get("/ui/alerts", params={"filter": f'ruleName contains "{marker}"'})
    assert page.status_code == 200, page.text
    assert rule not in page.text and host not in page.text
    (row,) = result_rows(page.text).values()
    cells = dict(re.findall(r'<td class="(rule|hostname)">(.*?)</td>', row, re.S))
    assert "<" not in cells["rule"] and "<" not in cells["hostname"]
    assert html.unescape(cells["rule"]) == rule  # shown as the text it is
    assert html.unescape(cells["hostname"]) == host


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TENANT_ADMIN])
def test_every_member_role_reads_the_page(
    base_url: str, db: Database, tenant: TenantKeys, role: Role
) -> None:
    email, password = add_member(db, tenant.id, role)
    with httpx.Client(base_url=base_url) as http:
        assert login(http, email, password).status_code == 303
        page = http.get("/ui/alerts")
        assert page.status_code == 200 and 'id="alerts-results"' in page.text


def test_without_a_session_it_asks_to_log_in(client: httpx.Client) -> None:
    resp = client.get("/ui/alerts")
    assert resp.status_code == 303 and "/ui/login" in resp.headers["location"]


def test_a_global_admin_searches_every_tenant(
    base_url: str,
    db: Database,
    client: httpx.Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
) -> None:
    host = f"mssp-{uuid.uuid4().hex[:8]}"
    ours = ingest(client, tenant, alert(hostname=host))[0]["alertId"]
    theirs = ingest(client, other_tenant, alert(hostname=host))[0]["alertId"]
    email, password = add_member(db, tenant.id, Role.GLOBAL_ADMIN)
    with httpx.Client(base_url=base_url) as http:
        assert login(http, email, password).status_code == 303
        page = http.get("/ui/alerts", params={"hostname": host})
        assert page.status_code == 200
        assert set(result_rows(page.text)) == {ours, theirs}
