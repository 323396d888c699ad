"""The demo generator: pure, deterministic, and every alert is one the API accepts."""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from muster.alerts.schemas import AlertIn
from muster.attack import normalise_tactic, technique_tactics
from muster.demo.catalog import PRODUCTS
from muster.demo.generator import generate, plan_actions

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def dataset() -> dict[str, Any]:
    return generate(7, 3, 3000, NOW)


def _alerts(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    return [alert for tenant in dataset["tenants"] for alert in tenant["alerts"]]


def test_same_seed_same_data_other_seed_other_data(dataset: dict[str, Any]) -> None:
    again = generate(7, 3, 3000, NOW)
    assert again == dataset
    sequence = [(a["ruleName"], a.get("hostname")) for a in _alerts(dataset)]
    assert sequence == [(a["ruleName"], a.get("hostname")) for a in _alerts(again)]
    other = [(a["ruleName"], a.get("hostname")) for a in _alerts(generate(8, 3, 3000, NOW))]
    assert other != sequence


def test_exact_counts_and_distinct_tenants(dataset: dict[str, Any]) -> None:
    tenants = dataset["tenants"]
    assert sum(len(t["alerts"]) for t in tenants) == 3000
    assert len({t["name"] for t in tenants}) == 3
    assert len({t["domain"] for t in tenants}) == 3
    many = generate(1, 25, 50, NOW)["tenants"]
    assert len({t["name"] for t in many}) == 25


def test_every_alert_validates_against_the_api_schema(dataset: dict[str, Any]) -> None:
    for alert in _alerts(dataset):
        parsed = AlertIn.model_validate(alert)
        assert 0 <= parsed.severity <= 4
        assert parsed.mitre_tactic is not None and parsed.mitre_technique is not None


def test_mitre_pairs_exist_in_the_shipped_catalogue(dataset: dict[str, Any]) -> None:
    pairs = {(a["mitreTactic"], a["mitreTechnique"]) for a in _alerts(dataset)}
    for tactic, technique in pairs:
        assert normalise_tactic(tactic) in technique_tactics(technique), (tactic, technique)
    for product in PRODUCTS:
        for rule in product.rules:
            assert rule.tactic in technique_tactics(rule.technique), rule.name


def test_severities_products_and_times(dataset: dict[str, Any]) -> None:
    alerts = _alerts(dataset)
    assert {a["severity"] for a in alerts} <= {0, 1, 2, 3, 4}
    assert len({a["severity"] for a in alerts}) >= 4
    sources = Counter(a["source"] for a in alerts)
    assert set(sources) == {p.source for p in PRODUCTS}
    assert min(sources.values()) > 50
    times = [datetime.fromisoformat(a["createdAt"]) for a in alerts]
    assert all(NOW - timedelta(days=7) <= t <= NOW for t in times)
    assert max(times) - min(times) > timedelta(days=5), "events spread over the last days"


def test_bursts_make_groupable_alerts(dataset: dict[str, Any]) -> None:
    episodes: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for a in _alerts(dataset):
        if a.get("hostname"):
            key = (a["source"], a["ruleName"], a["hostname"])
            episodes[key].append(datetime.fromisoformat(a["createdAt"]))
    bursts = [t for t in episodes.values() if len(t) >= 3 and max(t) - min(t) < timedelta(hours=1)]
    assert len(bursts) >= 30


def test_some_alerts_are_sent_again_unchanged(dataset: dict[str, Any]) -> None:
    for tenant in dataset["tenants"]:
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for alert in tenant["alerts"]:
            by_id[alert["externalId"]].append(alert)
        repeated = [copies for copies in by_id.values() if len(copies) > 1]
        assert len(repeated) >= len(tenant["alerts"]) // 40
        assert all(all(c == copies[0] for c in copies) for copies in repeated)


def test_addresses_mix_private_and_public(dataset: dict[str, Any]) -> None:
    ips = [
        ipaddress.ip_address(a[k])
        for a in _alerts(dataset)
        for k in ("srcIp", "destIp")
        if a.get(k)
    ]
    assert any(ip in ipaddress.ip_network("10.0.0.0/8") for ip in ips)
    assert any(ip in ipaddress.ip_network("172.16.0.0/12") for ip in ips)
    assert any(ip.is_global for ip in ips), "well-known public resolvers"
    documentation = [
        ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
    ]
    assert any(any(ip in net for net in documentation) for ip in ips)


def test_process_alerts_carry_command_lines_and_entities(dataset: dict[str, Any]) -> None:
    processes = [a for a in _alerts(dataset) if a.get("initiatorCmd")]
    assert len(processes) > 200
    assert all("{" not in a["initiatorCmd"] for a in processes), "placeholders filled"
    assert all(
        {"host", "process", "filehash"} <= {e["type"] for e in a["entities"]}
        for a in processes
        if a.get("hostname")
    )


def test_members_are_plausible(dataset: dict[str, Any]) -> None:
    for tenant in dataset["tenants"]:
        members = tenant["members"]
        assert [m["role"] for m in members].count("tenant_admin") == 1
        assert {m["role"] for m in members} == {"tenant_admin", "analyst"}
        emails = [m["email"] for m in members]
        assert len(set(emails)) == len(emails)
        assert all(e.endswith("@" + tenant["domain"]) for e in emails)
        assert all(" " in m["name"] for m in members)


def test_action_plans_are_deterministic_and_use_members(dataset: dict[str, Any]) -> None:
    members = dataset["tenants"][0]["members"]
    numbers = list(range(1, 120))
    plan = plan_actions(7, 0, numbers, members)
    assert plan == plan_actions(7, 0, numbers, members)
    assert 1 <= len(plan) <= 40
    emails = {m["email"] for m in members}
    ops = Counter(step["op"] for action in plan for step in action["steps"])
    assert ops["assign"] == len(plan) and ops["resolve"] > 0 and ops["comment"] > 0
    assert all(action["actor"] in emails and action["number"] in numbers for action in plan)
    assert plan_actions(7, 0, [], members) == []
