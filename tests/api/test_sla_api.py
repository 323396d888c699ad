"""`/api/v1/sla/policy` and the SLA fields of incidents, end to end through the real server,
whose embedded worker scans for due SLA events every 0.25 s (conftest `settings`)."""

from __future__ import annotations

import statistics
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    get_incident,
    list_all,
    patch_incident,
    post_alerts,
    timeline,
    ts,
    wait_for,
)
from tests.factories import TenantKeys, alert

POLICY = "/api/v1/sla/policy"
DEFAULT_TARGETS = {
    "HIGH": {"response": "30m", "resolution": "4h"},
    "MEDIUM": {"response": "2h", "resolution": "1d"},
    "LOW": {"response": "8h", "resolution": "3d"},
    "INFORMATIONAL": {"response": "1d", "resolution": "7d"},
}
# HIGH: response due after 2 s (at risk from 1 s), resolution after 4 s (at risk from 2 s)
QUICK = {"atRiskFraction": 0.5, "targets": {"HIGH": {"response": "2s", "resolution": "4s"}}}
LATE_AT_MOST = timedelta(seconds=2.5)  # scans every 0.25 s; slack for a loaded test machine


def put_policy(client: httpx.Client, tenant: TenantKeys, body: Any) -> httpx.Response:
    return client.put(POLICY, json=body, headers=tenant.headers(Role.TENANT_ADMIN))


def get_policy(client: httpx.Client, tenant: TenantKeys) -> dict[str, Any]:
    resp = client.get(POLICY, headers=tenant.headers(Role.VIEWER))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


class TestPolicyRoutes:
    def test_a_new_tenant_runs_on_the_default_policy(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        assert get_policy(client, tenant) == {
            "default": True,
            "atRiskFraction": 0.75,
            "targets": DEFAULT_TARGETS,
        }

    def test_put_stores_it_for_this_tenant_only_and_delete_restores_the_default(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        body = {"atRiskFraction": 0.8, "targets": {"high": {"response": 300, "resolution": "2h"}}}
        resp = put_policy(client, tenant, body)
        assert resp.status_code == 200, resp.text
        expected = {
            "default": False,
            "atRiskFraction": 0.8,
            "targets": {**DEFAULT_TARGETS, "HIGH": {"response": "5m", "resolution": "2h"}},
        }
        assert resp.json() == expected
        assert get_policy(client, tenant) == expected
        assert get_policy(client, other_tenant)["default"] is True
        resp = client.delete(POLICY, headers=tenant.headers(Role.TENANT_ADMIN))
        assert resp.status_code == 200, resp.text
        assert resp.json()["default"] is True
        assert get_policy(client, tenant)["targets"] == DEFAULT_TARGETS

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"atRiskFraction": 1.2}, "atRiskFraction"),
            ({"atRiskFraction": 0}, "atRiskFraction"),
            (
                {"targets": {"HIGH": {"response": "fast", "resolution": "1h"}}},
                "targets.HIGH.response",
            ),
            (
                {"targets": {"HIGH": {"response": "1h", "resolution": "90d"}}},
                "targets.HIGH.resolution",
            ),
            ({"targets": {"HIGH": {"response": "2h", "resolution": "1h"}}}, "targets.HIGH"),
            ({"targets": {"URGENT": {"response": "1h", "resolution": "2h"}}}, "targets.URGENT"),
            ({"targets": {"LOW": {"response": "1h"}}}, "targets.LOW.resolution"),
            ({"slow": True}, "slow"),
        ],
    )
    def test_a_bad_policy_is_a_400_naming_the_field_and_changes_nothing(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any], field: str
    ) -> None:
        assert_problem(put_policy(client, tenant, body), 400, "validation_failed", field)
        assert get_policy(client, tenant)["default"] is True

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    def test_only_a_tenant_admin_changes_it(
        self, client: httpx.Client, tenant: TenantKeys, role: Role
    ) -> None:
        put = client.put(POLICY, json=QUICK, headers=tenant.headers(role))
        assert_problem(put, 403)
        assert_problem(client.delete(POLICY, headers=tenant.headers(role)), 403)
        assert get_policy(client, tenant)["default"] is True

    def test_tenant_settings_validate_the_policy_too(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        path = f"/api/v1/tenants/{tenant.id}"
        admin = tenant.headers(Role.TENANT_ADMIN)
        bad = {"settings": {"slaPolicy": {"atRiskFraction": 3}}}
        assert_problem(
            client.patch(path, json=bad, headers=admin),
            400,
            field="settings.slaPolicy.atRiskFraction",
        )
        good = {
            "settings": {"slaPolicy": {"targets": {"LOW": {"response": "1h", "resolution": "1d"}}}}
        }
        resp = client.patch(path, json=good, headers=admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["settings"]["slaPolicy"]["targets"]["HIGH"] == DEFAULT_TARGETS["HIGH"]
        assert get_policy(client, tenant)["targets"]["LOW"] == {
            "response": "1h",
            "resolution": "1d",
        }


class TestIncidentFields:
    def test_due_times_follow_the_policy_and_the_state_is_shown(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant, severity=4)
        created = ts(made["createdAt"])
        assert made["slaState"] == "ok"
        assert ts(made["slaResponseDueAt"]) == created + timedelta(minutes=30)
        assert ts(made["slaResolutionDueAt"]) == created + timedelta(hours=4)
        (item,) = post_alerts(client, tenant, alert(severity=2))["items"]
        ingested = get_incident(client, tenant, item["incidentId"])
        assert ts(ingested["slaResponseDueAt"]) == ts(ingested["createdAt"]) + timedelta(hours=8)
        assert ingested["slaState"] == "ok"
        listed = list_all(client, "/api/v1/incidents", tenant.headers(Role.VIEWER))
        by_id = {i["id"]: i for i in listed}
        assert by_id[made["id"]]["slaState"] == "ok"
        assert by_id[made["id"]]["slaResponseDueAt"] == made["slaResponseDueAt"]

    def test_states_and_the_list_filter(self, client: httpx.Client, tenant: TenantKeys) -> None:
        excluded = create_incident(client, tenant, excludeFromSLA=True)
        met = create_incident(client, tenant)
        resp = patch_incident(
            client, tenant, met["id"], status="RESOLVED", resolution="FALSE_POSITIVE"
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["slaState"] == "met"
        opened = create_incident(client, tenant)
        assert excluded["slaState"] == "excluded"
        headers = tenant.headers(Role.VIEWER)
        for state, wanted in (("excluded", excluded), ("met", met), ("ok", opened)):
            found = list_all(client, "/api/v1/incidents", headers, slaState=state)
            assert [i["id"] for i in found] == [wanted["id"]], state
        assert list_all(client, "/api/v1/incidents", headers, slaState="breached") == []
        bad = client.get("/api/v1/incidents", params={"slaState": "late"}, headers=headers)
        assert_problem(bad, 400, "validation_failed", "slaState")


def sla_entries(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> list[dict[str, Any]]:
    return [e for e in timeline(client, tenant, incident_id) if e["action"].startswith("sla.")]


class TestScheduler:
    def test_events_are_raised_once_on_time_and_only_for_open_targets(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        assert put_policy(client, tenant, QUICK).status_code == 200
        hosts = [f"sla-{n}-{uuid.uuid4().hex[:6]}" for n in range(20)]
        items = post_alerts(client, tenant, *[alert(severity=4, hostname=h) for h in hosts])[
            "items"
        ]
        watched = [item["incidentId"] for item in items]
        responded = create_incident(client, tenant, severity=4)
        resolved = create_incident(client, tenant, severity=4)
        excluded = create_incident(client, tenant, severity=4, excludeFromSLA=True)
        for incident, change in (
            (responded, {"status": "UNDER_INVESTIGATION"}),
            (resolved, {"status": "RESOLVED", "resolution": "BENIGN_POSITIVE"}),
        ):
            assert patch_incident(client, tenant, incident["id"], **change).status_code == 200

        def events() -> dict[str, Any]:
            return {"items": sla_entries(client, tenant, watched[-1])}

        wait_for(events, lambda got: len(got["items"]) == 4, timeout=20)
        wait_for(
            lambda: {"items": sla_entries(client, tenant, responded["id"])},
            lambda got: len(got["items"]) == 2,
            timeout=10,
        )
        lateness = []
        for incident_id in watched:
            detail = get_incident(client, tenant, incident_id)
            entries = sla_entries(client, tenant, incident_id)
            assert [(e["action"], e["changes"]["target"]) for e in entries] == [
                ("sla.at_risk", "response"),
                ("sla.breached", "response"),
                ("sla.at_risk", "resolution"),
                ("sla.breached", "resolution"),
            ]
            created = ts(detail["createdAt"])
            for entry in entries:
                due = ts(entry["changes"]["dueAt"])
                threshold = (
                    due if entry["action"] == "sla.breached" else created + (due - created) / 2
                )
                late = ts(entry["createdAt"]) - threshold
                assert timedelta(0) <= late <= LATE_AT_MOST, entry
                if entry["action"] == "sla.breached":
                    lateness.append(late.total_seconds())
            assert detail["slaState"] == "breached"
        print(
            f"sla.breached raised after due: median {statistics.median(lateness):.3f}s, "
            f"max {max(lateness):.3f}s over {len(lateness)} events"
        )
        assert [
            (e["action"], e["changes"]["target"])
            for e in sla_entries(client, tenant, responded["id"])
        ] == [
            ("sla.at_risk", "resolution"),
            ("sla.breached", "resolution"),
        ]
        assert sla_entries(client, tenant, resolved["id"]) == []
        assert sla_entries(client, tenant, excluded["id"]) == []
        assert get_incident(client, tenant, resolved["id"])["slaState"] == "met"
        assert get_incident(client, tenant, excluded["id"])["slaState"] == "excluded"
