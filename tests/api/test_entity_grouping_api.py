"""Entity rules through the API: create, validate, turn on, and the reason a join carries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import assert_problem, get_incident, ingest, timeline
from tests.factories import TenantKeys

RULES = "/api/v1/grouping-rules"


def rules(client: httpx.Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get(RULES, headers=tenant.headers(Role.VIEWER)).json()
    return listed


class TestEntityRules:
    def test_the_defaults_carry_an_entities_rule_switched_off(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        listed = rules(client, tenant)
        (entity_rule,) = [r for r in listed if r["strategy"] == "entities"]
        assert entity_rule["enabled"] is False and entity_rule["keyFields"] == []
        assert entity_rule["threshold"] == 0.5
        assert {r["strategy"] for r in listed if r is not entity_rule} == {"keys"}
        burst = [r for r in listed if r["keyFields"] == ["source", "ruleName"]]
        assert burst and burst[0]["position"] > entity_rule["position"]

    def test_turned_on_it_joins_another_detection_on_the_host(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        (entity_rule,) = [r for r in rules(client, tenant) if r["strategy"] == "entities"]
        resp = client.patch(f"{RULES}/{entity_rule['id']}", json={"enabled": True}, headers=admin)
        assert resp.status_code == 200, resp.text
        first = ingest(client, tenant, hostname="ws-42.corp.example", username=None, srcIp=None)
        second = ingest(
            client,
            tenant,
            ruleName="Credential dumping via LSASS",
            hostname="WS-42",
            username=None,
            srcIp=None,
        )
        assert second["incidentId"] == first["incidentId"]
        reason = second["groupingReason"]
        assert reason["rule"] == entity_rule["name"] and reason["strategy"] == "entities"
        assert {"kind": "host", "value": "ws-42", "weight": 1.0} in reason["entities"]
        assert reason["score"] >= entity_rule["threshold"]
        number = get_incident(client, tenant, first["incidentId"])["number"]
        assert f"#{number}" in reason["detail"]
        grouped = [
            e
            for e in timeline(client, tenant, first["incidentId"])
            if e["action"] == "alert.grouped"
        ]
        assert grouped and grouped[0]["reason"] == reason["detail"]

    def test_create_and_change_an_entities_rule(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        body = {
            "name": "Entities, strict",
            "strategy": "entities",
            "windowSeconds": 7200,
            "threshold": 1.5,
        }
        resp = client.post(RULES, json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        created = resp.json()
        assert (created["strategy"], created["threshold"], created["keyFields"]) == (
            "entities",
            1.5,
            [],
        )
        changed = client.patch(f"{RULES}/{created['id']}", json={"threshold": 0.75}, headers=admin)
        assert changed.status_code == 200 and changed.json()["threshold"] == 0.75
        back = client.patch(
            f"{RULES}/{created['id']}",
            json={"strategy": "keys", "keyFields": ["hostname"]},
            headers=admin,
        )
        assert back.status_code == 200, back.text
        assert back.json()["strategy"] == "keys" and back.json()["threshold"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"strategy": "entities", "keyFields": ["hostname"]}, "keyFields"),
            ({"strategy": "keys"}, "keyFields"),
            ({"strategy": "graph", "keyFields": ["hostname"]}, "strategy"),
            ({"strategy": "entities", "threshold": 0}, "threshold"),
            ({"strategy": "entities", "threshold": "high"}, "threshold"),
        ],
    )
    def test_bad_rules_are_refused_naming_the_field(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any], field: str
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        before = rules(client, tenant)
        full = {"name": "bad", "windowSeconds": 600, **body}
        assert_problem(client.post(RULES, json=full, headers=admin), 400, field=field)
        assert rules(client, tenant) == before
