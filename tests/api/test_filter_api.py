"""The filter language over HTTP: `?filter=` on the alert and incident lists, grouping rules."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from muster.models.enums import Role
from tests.api.apicalls import assert_problem, create_incident, list_all, post_alerts
from tests.api.test_grouping import add_rule
from tests.factories import TenantKeys, alert

ALERTS = "/api/v1/alerts"
INCIDENTS = "/api/v1/incidents"


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {item["id"] for item in items}


def _seed(client: httpx.Client, tenant: TenantKeys) -> dict[str, str]:
    """Three alerts on three hosts; returns alert id by host."""
    bodies = [
        alert(hostname="ws-1", severity=1, srcIp="10.0.0.5", process={"name": "cmd.exe"}),
        alert(hostname="ws-2", severity=3, srcIp="192.168.1.9", tags=["lateral"]),
        alert(
            hostname="db-1",
            severity=4,
            srcIp="2001:db8::5",
            entities=[{"type": "host", "value": "db-1"}],
        ),
    ]
    items = post_alerts(client, tenant, *bodies)["items"]
    return {b["hostname"]: i["alertId"] for b, i in zip(bodies, items, strict=True)}


def _alerts(client: httpx.Client, tenant: TenantKeys, flt: str, **params: Any) -> set[str]:
    return _ids(list_all(client, ALERTS, tenant.headers(Role.VIEWER), filter=flt, **params))


class TestAlertFilter:
    def test_operators(self, client: httpx.Client, tenant: TenantKeys) -> None:
        ids = _seed(client, tenant)
        assert _alerts(client, tenant, "severity >= 3") == {ids["ws-2"], ids["db-1"]}
        assert _alerts(client, tenant, 'hostname contains "WS"') == {ids["ws-1"], ids["ws-2"]}
        assert _alerts(client, tenant, 'raw.process.name = "cmd.exe"') == {ids["ws-1"]}
        assert _alerts(client, tenant, 'srcIp incidr "2001:db8::/32"') == {ids["db-1"]}
        assert _alerts(client, tenant, 'tags = "lateral"') == {ids["ws-2"]}
        assert _alerts(client, tenant, 'entity.host = "db-1"') == {ids["db-1"]}
        assert _alerts(client, tenant, 'hostname matches "^ws-[12]$" and not severity = 1') == {
            ids["ws-2"]
        }
        assert _alerts(client, tenant, "createdAt > -1h") == set(ids.values())

    def test_combines_with_other_filters_and_pages(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        ids = _seed(client, tenant)
        got = _alerts(client, tenant, "severity >= 1", hostname="ws-2", limit=1)
        assert got == {ids["ws-2"]}
        assert _alerts(client, tenant, "severity >= 0", limit=1) == set(ids.values())

    def test_syntax_error_is_a_problem_with_position(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        resp = client.get(ALERTS, params={"filter": "severity >= "}, headers=tenant.headers())
        body = assert_problem(resp, 400, "query.syntax_error", field="filter")
        error = body["errors"][0]
        assert error["line"] == 1 and error["column"] == 13
        assert "a number" in error["expected"]

    def test_semantic_errors(self, client: httpx.Client, tenant: TenantKeys) -> None:
        cases = {
            "sevrity = 1": "query.unknown_field",
            'severity = "high"': "query.type_mismatch",
            'hostname matches "("': "query.bad_regex",
            'srcIp incidr "10.0.0.0/99"': "query.bad_cidr",
        }
        for text, code in cases.items():
            resp = client.get(ALERTS, params={"filter": text}, headers=tenant.headers())
            assert_problem(resp, 400, code, field="filter")
        resp = client.get(ALERTS, params={"filter": "x" * 4001}, headers=tenant.headers())
        assert_problem(resp, 400, "query.too_long")


class TestIncidentFilter:
    def test_reaches_alerts_and_combines(self, client: httpx.Client, tenant: TenantKeys) -> None:
        _seed(client, tenant)
        viewer = tenant.headers(Role.VIEWER)
        found = list_all(client, INCIDENTS, viewer, filter='alerts.hostname = "ws-2"')
        assert [i["severity"] for i in found] == [3]
        high = list_all(client, INCIDENTS, viewer, filter='severity >= 3 and status = "OPEN"')
        assert sorted(i["severity"] for i in high) == [3, 4]
        manual = create_incident(client, tenant, severity=2)
        mine = list_all(client, INCIDENTS, viewer, filter="not alerts.hostname exists", limit=1)
        assert _ids(mine) == {manual["id"]}
        assert list_all(client, INCIDENTS, viewer, filter="severity >= 3", status="RESOLVED") == []

    def test_bad_filter(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get(
            INCIDENTS, params={"filter": 'status = "OPEN" and'}, headers=tenant.headers()
        )
        assert_problem(resp, 400, "query.syntax_error", field="filter")
        resp = client.get(INCIDENTS, params={"filter": "alerts.nope = 1"}, headers=tenant.headers())
        assert_problem(resp, 400, "query.unknown_field")


class TestGroupingRuleFilter:
    def test_rule_with_filter_only_groups_matching_alerts(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        rule = add_rule(client, tenant, filter="severity >= 3", keyFields=["ruleName"])
        assert rule["filter"] == "severity >= 3"
        name = f"r-{uuid.uuid4().hex[:6]}"
        items = post_alerts(
            client,
            tenant,
            alert(ruleName=name, severity=3, hostname="a"),
            alert(ruleName=name, severity=4, hostname="b"),
            alert(ruleName=name, severity=1, hostname="c"),
            alert(ruleName=name, severity=1, hostname="d"),
        )["items"]
        high, higher, low1, low2 = (i["incidentId"] for i in items)
        assert high == higher
        assert len({high, low1, low2}) == 3  # no rule applies to the low ones
        assert items[0]["groupingReason"]["rule"] == rule["name"]
        assert items[2]["groupingReason"]["rule"] is None

    def test_filter_on_raw_payload(self, client: httpx.Client, tenant: TenantKeys) -> None:
        add_rule(client, tenant, filter='raw.process.name = "cmd.exe"', keyFields=["ruleName"])
        name = f"r-{uuid.uuid4().hex[:6]}"
        items = post_alerts(
            client,
            tenant,
            alert(ruleName=name, process={"name": "cmd.exe"}),
            alert(ruleName=name, process={"name": "cmd.exe"}),
            alert(ruleName=name),
        )["items"]
        assert items[0]["incidentId"] == items[1]["incidentId"] != items[2]["incidentId"]

    def test_bad_filter_is_refused_and_update_applies(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        body = {"name": "bad", "keyFields": ["hostname"], "windowSeconds": 600}
        resp = client.post(
            "/api/v1/grouping-rules", json={**body, "filter": "hostname >"}, headers=admin
        )
        problem = assert_problem(resp, 400, "query.syntax_error", field="filter")
        assert problem["errors"][0]["column"] == 11
        rule = add_rule(client, tenant, keyFields=["ruleName"])
        resp = client.patch(
            f"/api/v1/grouping-rules/{rule['id']}", json={"filter": "severity = 4"}, headers=admin
        )
        assert resp.status_code == 200 and resp.json()["filter"] == "severity = 4"
        name = f"r-{uuid.uuid4().hex[:6]}"
        items = post_alerts(
            client, tenant, alert(ruleName=name, severity=3), alert(ruleName=name, severity=3)
        )["items"]
        assert items[0]["incidentId"] != items[1]["incidentId"]
