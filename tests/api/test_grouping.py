"""Grouping through the API: keys, severity, closed incidents, limits, windows and reasons."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    get_alert,
    get_incident,
    ingest,
    patch_incident,
    post_alerts,
    timeline,
)
from tests.factories import TenantKeys, alert

HOST_RULE = "Same detection on the same host"


def add_rule(client: httpx.Client, tenant: TenantKeys, **fields: Any) -> dict[str, Any]:
    """Make a rule the only enabled one (the defaults are disabled, not deleted)."""
    admin = tenant.headers(Role.TENANT_ADMIN)
    for existing in client.get("/api/v1/grouping-rules", headers=admin).json():
        resp = client.patch(
            f"/api/v1/grouping-rules/{existing['id']}", json={"enabled": False}, headers=admin
        )
        assert resp.status_code == 200, resp.text
    body = {
        "name": f"rule {uuid.uuid4().hex[:6]}",
        "keyFields": ["ruleName", "hostname"],
        "windowSeconds": 3600,
        "position": 0,
        **fields,
    }
    resp = client.post(
        "/api/v1/grouping-rules", json=body, headers=tenant.headers(Role.TENANT_ADMIN)
    )
    assert resp.status_code == 201, resp.text
    rule: dict[str, Any] = resp.json()
    return rule


class TestKeys:
    def test_same_rule_and_host_join(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        second = ingest(client, tenant, username="someone.else@corp.example", srcIp="10.9.9.9")
        assert second["incidentId"] == first["incidentId"]
        assert second["incidentHash"] == first["incidentHash"]
        reason = second["groupingReason"]
        assert reason["decision"] == "attached"
        assert reason["rule"] == HOST_RULE
        body = alert()
        assert reason["key"] == {
            "source": body["source"],
            "ruleName": body["ruleName"],
            "hostname": body["hostname"],
        }
        number = get_incident(client, tenant, first["incidentId"])["number"]
        assert f"#{number}" in reason["detail"]
        assert get_alert(client, tenant, second["alertId"])["groupingReason"] == reason

    def test_first_alert_opens_and_says_so(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant, hostname="fresh-host")
        assert item["groupingReason"]["decision"] == "opened"
        assert item["groupingReason"]["rule"] == HOST_RULE
        assert item["groupingReason"]["key"]["hostname"] == "fresh-host"

    def test_host_match_is_case_insensitive(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant, hostname="WS-0142.corp.example")
        second = ingest(client, tenant, hostname="ws-0142.CORP.example")
        assert second["incidentId"] == first["incidentId"]

    def test_different_host_opens_new(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant, hostname="host-a")
        second = ingest(client, tenant, hostname="host-b")
        assert second["incidentId"] != first["incidentId"]
        assert second["groupingReason"]["decision"] == "opened"
        assert second["groupingReason"]["key"]["hostname"] == "host-b"

    def test_different_rule_opens_new(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        second = ingest(client, tenant, ruleName="Credential dumping via LSASS")
        assert second["incidentId"] != first["incidentId"]

    def test_no_key_values_uses_the_burst_rule(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        bare = {"hostname": None, "username": None, "srcIp": None}
        first = ingest(client, tenant, **bare)
        second = ingest(client, tenant, **bare)
        assert second["incidentId"] == first["incidentId"]
        assert set(second["groupingReason"]["key"]) == {"source", "ruleName"}

    def test_new_incident_takes_title_source_and_mitre(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert(
            description="PowerShell fetched a payload",
            mitreTactic="TA0008",
            mitreTechnique="T1021.002",
        )
        incident = get_incident(client, tenant, ingest(client, tenant, **body)["incidentId"])
        assert incident["description"] == body["ruleName"]
        assert incident["details"] == body["description"]
        assert incident["source"] == body["source"]
        assert incident["mitreTactic"] == "Lateral Movement"
        assert incident["mitreTechnique"] == "T1021.002"
        assert incident["status"] == "OPEN" and incident["assignee"] is None

    def test_grouping_within_one_batch(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(
            client,
            tenant,
            alert(hostname="a"),
            alert(hostname="b"),
            alert(hostname="a"),
            alert(hostname="b"),
            alert(hostname="a"),
        )
        ids = [i["incidentId"] for i in answer["items"]]
        assert ids[0] == ids[2] == ids[4] and ids[1] == ids[3] and ids[0] != ids[1]
        assert answer["incidentsCreated"] == 2
        assert get_incident(client, tenant, ids[0])["alertCount"] == 3
        assert len(get_incident(client, tenant, ids[1])["alerts"]) == 2


class TestSeverity:
    def test_at_least_one(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant, severity=0)
        assert get_incident(client, tenant, item["incidentId"])["severity"] == 1

    def test_later_alerts_raise_it_but_never_lower_it(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        incident_id = ingest(client, tenant, severity=2)["incidentId"]
        seen = [2]
        for severity in (1, 4, 3):
            assert ingest(client, tenant, severity=severity)["incidentId"] == incident_id
            seen.append(severity)
            assert get_incident(client, tenant, incident_id)["severity"] == max(seen)
        raised = [
            e
            for e in timeline(client, tenant, incident_id)
            if e["action"] == "incident.severity_raised"
        ]
        assert [e["changes"]["severity"] for e in raised] == [[2, 4]]

    def test_batch_severity_is_the_max(self, client: httpx.Client, tenant: TenantKeys) -> None:
        severities = [1, 3, 2, 0]
        answer = post_alerts(client, tenant, *[alert(severity=s) for s in severities])
        (incident_id,) = {i["incidentId"] for i in answer["items"]}
        assert get_incident(client, tenant, incident_id)["severity"] == max(severities)


class TestClosedIncidents:
    def test_resolved_takes_no_new_alerts(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        resp = patch_incident(
            client, tenant, first["incidentId"], status="RESOLVED", resolution="TRUE_POSITIVE"
        )
        assert resp.status_code == 200, resp.text
        later = ingest(client, tenant)
        assert later["incidentId"] != first["incidentId"]
        assert later["groupingReason"]["decision"] == "opened"
        assert later["groupingReason"]["rule"] == HOST_RULE
        assert get_incident(client, tenant, first["incidentId"])["alertCount"] == 1

    def test_grouping_allowed_false_takes_no_new_alerts(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        first = ingest(client, tenant)
        resp = patch_incident(client, tenant, first["incidentId"], groupingAllowed=False)
        assert resp.status_code == 200 and resp.json()["groupingAllowed"] is False
        later = ingest(client, tenant)
        assert later["incidentId"] != first["incidentId"]
        assert later["groupingReason"]["decision"] == "opened"
        third = ingest(client, tenant)
        assert third["incidentId"] == later["incidentId"]

    def test_under_investigation_still_groups(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        first = ingest(client, tenant)
        patch_incident(client, tenant, first["incidentId"], status="UNDER_INVESTIGATION")
        assert ingest(client, tenant)["incidentId"] == first["incidentId"]


class TestLimits:
    def test_max_alerts_per_incident(self, client: httpx.Client, tenant: TenantKeys) -> None:
        rule = add_rule(client, tenant, maxAlerts=2)
        items = [ingest(client, tenant) for _ in range(5)]
        ids = [i["incidentId"] for i in items]
        assert ids[0] == ids[1] != ids[2]
        assert ids[2] == ids[3] != ids[4]
        assert all(i["groupingReason"]["rule"] == rule["name"] for i in items)
        assert "full (2 alerts)" in items[2]["groupingReason"]["detail"]
        assert get_incident(client, tenant, ids[0])["alertCount"] == 2

    def test_max_alerts_holds_inside_one_batch(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        add_rule(client, tenant, maxAlerts=3)
        answer = post_alerts(client, tenant, *[alert() for _ in range(7)])
        ids = [i["incidentId"] for i in answer["items"]]
        counts = {i: ids.count(i) for i in ids}
        assert sorted(counts.values()) == [1, 3, 3]
        assert answer["incidentsCreated"] == 3
        for incident_id, count in counts.items():
            assert get_incident(client, tenant, incident_id)["alertCount"] == count

    def test_max_alerts_changed_on_a_default_rule(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        view = tenant.headers(Role.TENANT_ADMIN)
        rules = client.get("/api/v1/grouping-rules", headers=view).json()
        (host_rule,) = [r for r in rules if r["name"] == HOST_RULE]
        resp = client.patch(
            f"/api/v1/grouping-rules/{host_rule['id']}", json={"maxAlerts": 1}, headers=view
        )
        assert resp.status_code == 200 and resp.json()["maxAlerts"] == 1
        first, second = ingest(client, tenant), ingest(client, tenant)
        assert first["incidentId"] != second["incidentId"]

    def test_default_window(self, client: httpx.Client, tenant: TenantKeys) -> None:
        now = datetime.now(UTC)
        old = ingest(client, tenant, createdAt=(now - timedelta(days=3)).isoformat())
        recent = ingest(client, tenant, createdAt=(now - timedelta(hours=1)).isoformat())
        assert recent["incidentId"] != old["incidentId"]
        assert recent["groupingReason"]["decision"] == "opened"
        assert "within 1d" in recent["groupingReason"]["detail"]
        close = ingest(client, tenant, createdAt=(now - timedelta(hours=5)).isoformat())
        assert close["incidentId"] == recent["incidentId"]

    def test_rule_window(self, client: httpx.Client, tenant: TenantKeys) -> None:
        rule = add_rule(client, tenant, windowSeconds=600)
        start = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
        at = [start, start + timedelta(minutes=9), start + timedelta(minutes=30)]
        answer = post_alerts(client, tenant, *[alert(createdAt=t.isoformat()) for t in at])
        ids = [i["incidentId"] for i in answer["items"]]
        assert ids[0] == ids[1] != ids[2]
        assert answer["items"][2]["groupingReason"]["rule"] == rule["name"]
        assert "outside the 10m window" in answer["items"][2]["groupingReason"]["detail"]
        incident = get_incident(client, tenant, ids[0])
        assert [a["createdAt"] for a in incident["alerts"]] == sorted(
            a["createdAt"] for a in incident["alerts"]
        )

    def test_rule_order_and_disabling(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        rules = client.get("/api/v1/grouping-rules", headers=admin).json()
        assert [r["position"] for r in rules] == sorted(r["position"] for r in rules)
        body = {"name": "by user", "keyFields": ["username"], "windowSeconds": 3600}
        rule = client.post("/api/v1/grouping-rules", json=body, headers=admin).json()
        assert rule["position"] > rules[-1]["position"]  # appended by default
        for earlier in rules:  # move the defaults behind the new rule
            resp = client.patch(
                f"/api/v1/grouping-rules/{earlier['id']}",
                json={"position": rule["position"] + 1 + earlier["position"]},
                headers=admin,
            )
            assert resp.status_code == 200, resp.text
        listed = client.get("/api/v1/grouping-rules", headers=admin).json()
        assert listed[0]["id"] == rule["id"]
        first = ingest(client, tenant, hostname="h1")
        second = ingest(client, tenant, hostname="h2")
        assert second["incidentId"] == first["incidentId"]  # same username, rule first
        assert second["groupingReason"]["rule"] == rule["name"]
        assert second["groupingReason"]["key"] == {"username": alert()["username"]}
        resp = client.patch(
            f"/api/v1/grouping-rules/{rule['id']}", json={"enabled": False}, headers=admin
        )
        assert resp.status_code == 200
        third = ingest(client, tenant, hostname="h3")
        assert third["incidentId"] != first["incidentId"]
        assert third["groupingReason"]["rule"] == HOST_RULE

    def test_rule_created_at_position_zero_comes_first(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        body = {"name": "first", "keyFields": ["username"], "windowSeconds": 3600, "position": 0}
        rule = client.post("/api/v1/grouping-rules", json=body, headers=admin).json()
        listed = client.get("/api/v1/grouping-rules", headers=admin).json()
        assert listed[0]["id"] == rule["id"]


class TestGroupingTimeline:
    def test_timeline_records_creation_and_grouping(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        first = ingest(client, tenant)
        second = ingest(client, tenant)
        events = timeline(client, tenant, first["incidentId"])
        actions = [e["action"] for e in events]
        assert actions[0] == "incident.created"
        grouped = [e for e in events if e["action"] == "alert.grouped"]
        assert len(grouped) == 1
        assert grouped[0]["changes"]["alertIds"] == [second["alertId"]]
        assert grouped[0]["reason"] == second["groupingReason"]["detail"]

    def test_rule_needs_admin(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = {"name": "x", "keyFields": ["hostname"], "windowSeconds": 600}
        resp = client.post("/api/v1/grouping-rules", json=body, headers=tenant.headers())
        assert_problem(resp, 403, "auth.role_required")


class TestQuietGap:
    """`maxGapSeconds`: an incident stops taking alerts once it has been quiet that long."""

    def test_a_quiet_incident_is_not_joined_and_the_reason_says_why(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        rule = add_rule(client, tenant, windowSeconds=86400, maxGapSeconds=600)
        assert rule["maxGapSeconds"] == 600 and rule["windowSeconds"] == 86400
        t0 = datetime(2031, 6, 1, 9, 0, tzinfo=UTC)  # future: the SLA scan leaves it alone
        host = f"gap-{uuid.uuid4().hex[:6]}"
        first = ingest(client, tenant, hostname=host, createdAt=t0.isoformat())
        close = t0 + timedelta(minutes=8)
        second = ingest(client, tenant, hostname=host, createdAt=close.isoformat())
        assert second["incidentId"] == first["incidentId"]  # within 10 min of the last alert
        later = close + timedelta(minutes=25)
        third = ingest(client, tenant, hostname=host, createdAt=later.isoformat())
        assert third["incidentId"] != first["incidentId"]
        assert "quiet for more than 10m" in third["groupingReason"]["detail"]

    def test_the_gap_can_be_changed_and_removed(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        rule = add_rule(client, tenant)
        assert rule["maxGapSeconds"] is None
        admin = tenant.headers(Role.TENANT_ADMIN)
        url = f"/api/v1/grouping-rules/{rule['id']}"
        changed = client.patch(url, json={"maxGapSeconds": 1800}, headers=admin)
        assert changed.status_code == 200 and changed.json()["maxGapSeconds"] == 1800
        cleared = client.patch(url, json={"maxGapSeconds": None}, headers=admin)
        assert cleared.status_code == 200 and cleared.json()["maxGapSeconds"] is None
        assert_problem(client.patch(url, json={"maxGapSeconds": 5}, headers=admin), 400)
