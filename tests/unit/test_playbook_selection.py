"""`muster.playbooks.selection.select`: weight order, ties by name, and the reasons it gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from muster.playbooks.selection import Candidate, select
from muster.query import Predicate, Subject, compile_predicate, parse

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
INCIDENT = {"severity": 4, "status": "OPEN", "source": "EDR", "tags": ["vip"]}


def when(text: str) -> Predicate:
    return compile_predicate(parse(text), Subject.INCIDENT, NOW)


def candidate(name: str, weight: int, criteria: str | None = None) -> Candidate:
    predicate = None if criteria is None else when(criteria)
    return Candidate(name, weight, predicate, f"id-{name}", criteria)


def test_highest_weight_that_matches_runs() -> None:
    chosen = select(
        [
            candidate("Low", 1, "severity >= 1"),
            candidate("High", 90, "severity = 1"),
            candidate("Mid", 50, 'source = "EDR"'),
        ],
        INCIDENT,
        NOW,
    )
    assert (chosen.playbook_id, chosen.name, chosen.weight) == ("id-Mid", "Mid", 50)
    assert chosen.selected and chosen.tried == ("High",)
    assert chosen.reason == (
        "playbook 'Mid' (weight 50) matches: source = \"EDR\"; "
        "tried before it: 'High' (criteria did not match)"
    )
    assert chosen.decided_at == NOW


def test_ties_go_by_name() -> None:
    chosen = select([candidate("Beta", 10), candidate("Alpha", 10)], INCIDENT, NOW)
    assert chosen.name == "Alpha"


def test_no_criteria_matches_every_incident() -> None:
    chosen = select([candidate("Catch-all", 0)], {}, NOW)
    assert chosen.name == "Catch-all"
    assert chosen.reason == (
        "playbook 'Catch-all' (weight 0) has no criteria, so it matches every incident"
    )


def test_nothing_matches() -> None:
    chosen = select(
        [candidate("B", 5, "severity = 1"), candidate("A", 9, 'tags contains "x"')], INCIDENT, NOW
    )
    assert not chosen.selected and chosen.playbook_id is None
    assert chosen.tried == ("A", "B")
    assert chosen.reason == (
        "no enabled incident playbook's criteria match (tried: 'A' (weight 9), 'B' (weight 5))"
    )


def test_no_playbooks() -> None:
    chosen = select([], INCIDENT, NOW)
    assert not chosen.selected and chosen.reason == "no enabled incident playbooks"
    assert select([], INCIDENT, NOW, trigger="manual").reason == "no enabled manual playbooks"


def test_plain_tuples_are_candidates() -> None:
    candidates: list[tuple[str, int, Predicate | None, Any]] = [
        ("X", 1, when("severity = 4"), 7),
        ("Y", 2, when("severity = 3"), 8),
    ]
    chosen = select(candidates, INCIDENT, NOW)
    assert chosen.playbook_id == 7
    assert chosen.reason.startswith("playbook 'X' (weight 1) matches: its criteria;")


def test_alerts_of_the_incident_count() -> None:
    view = {**INCIDENT, "alerts": [{"hostname": "ws-1"}, {"hostname": "db-1"}]}
    chosen = select([candidate("Hosts", 1, 'alerts.hostname = "db-1"')], view, NOW)
    assert chosen.name == "Hosts"


def test_long_criteria_are_shortened_in_the_reason() -> None:
    criteria = " or ".join(f'source = "s{i}"' for i in range(60)) + ' or source = "EDR"'
    chosen = select([candidate("Long", 1, criteria)], INCIDENT, NOW)
    assert chosen.selected and len(chosen.reason) < 300 and chosen.reason.endswith("…")
