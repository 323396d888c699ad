"""Entity-aware grouping, pure parts: normalisation, commonness, the decision, batch learning;
and the clustering metrics of bench/grouping_quality.py on textbook examples."""

from __future__ import annotations

import importlib.util
import math
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from muster.alerts.entities import named_entities_of_row
from muster.grouping.commonness import FREE_SUBJECTS, LOOKBACK, SAMPLE_CAP, observe, weight
from muster.grouping.correlation import EntityFacts
from muster.grouping.decision import ENTITIES, AttachTo, Candidate, OpenNew, Rule, decide
from muster.grouping.entity_batch import EntityBatch, Held
from muster.grouping.entity_keys import alert_keys, entity_key, subject_of

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ENTITY_RULE = Rule("r-ent", "Shared entities", (), DAY, 5, None, ENTITIES, 0.5)


def cand(number: int, **over: Any) -> Candidate:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "number": number,
        "grouping_key": None,
        "status": "OPEN",
        "grouping_allowed": True,
        "alert_count": 1,
        "first_alert_at": T0,
        "created_at": T0,
    }
    fields.update(over)
    return Candidate(**fields)


class TestKeys:
    @pytest.mark.parametrize(
        ("kind", "a", "b"),
        [
            ("host", "VNEVADO-DC.corp.example", "vnevado-dc"),
            ("account", "CORP\\Alice", "alice@corp.example"),
            ("mailbox", "alice@corp.example", "ALICE"),
            ("url", "https://Evil.example/login", "evil.example"),
            ("filehash", "ABCDEF0123456789ABCDEF0123456789", "abcdef0123456789abcdef0123456789"),
            ("ip", "10.0.0.1", "10.0.0.1"),
        ],
    )
    def test_spellings_of_one_thing_share_a_key(self, kind: str, a: str, b: str) -> None:
        first, second = entity_key(kind, a), entity_key("account" if kind == "mailbox" else kind, b)
        if kind == "url":
            second = entity_key("domain", b)
        assert first is not None and second is not None
        assert first.key == second.key

    @pytest.mark.parametrize(
        ("kind", "value"),
        [
            ("ip", "127.0.0.1"),
            ("ip", "0.0.0.0"),
            ("ip", "not-an-ip"),
            ("host", "localhost"),
            ("account", "-"),
            ("filehash", "xyz"),
            ("process", "powershell.exe"),
            ("file", "C:\\Windows\\notepad.exe"),
        ],
    )
    def test_what_names_no_subject_is_skipped(self, kind: str, value: str) -> None:
        assert entity_key(kind, value) is None

    def test_a_host_given_as_an_address_is_an_ip(self) -> None:
        found = entity_key("host", "10.1.2.3")
        assert found is not None and (found.kind, found.value) == ("ip", "10.1.2.3")

    def test_alert_keys_read_fields_and_entities_once_each(self) -> None:
        row = {
            "hostname": "WS-1.corp.example",
            "username": "bob",
            "src_ip": "10.0.0.9",
            "entities": [
                {"type": "host", "value": "ws-1"},
                {"type": "account", "value": "CORP\\bob"},
            ],
        }
        keys = alert_keys(named_entities_of_row(row))
        assert sorted((k.kind, k.value) for k in keys) == [
            ("account", "bob"),
            ("host", "ws-1"),
            ("ip", "10.0.0.9"),
        ]
        assert subject_of(keys) == entity_key("host", "ws-1").key  # type: ignore[union-attr]


class TestCommonness:
    def test_rare_entities_keep_their_kind_strength(self) -> None:
        for spread in range(FREE_SUBJECTS + 1):
            assert weight("host", spread) == 1.0
        assert weight("ip", 0) == weight("ip", 1) == 0.5
        assert weight("ip", 2) < 0.5 and weight("domain", 2) < 0.5  # shared from the second

    def test_weight_falls_as_an_entity_is_seen_with_more_subjects(self) -> None:
        weights = [weight("host", spread) for spread in range(FREE_SUBJECTS, 64)]
        assert weights == sorted(weights, reverse=True) and weights[-1] < weights[0] / 4
        assert weight("host", 4 * FREE_SUBJECTS) == pytest.approx(0.5, abs=0.001)

    def test_the_sample_is_capped_and_a_new_period_keeps_the_last_count(self) -> None:
        seen = observe(None, [f"s{i}" for i in range(SAMPLE_CAP + 10)], T0)
        assert len(seen.subjects) == SAMPLE_CAP and seen.saturated
        later = observe(seen, ["x"], T0 + LOOKBACK + timedelta(seconds=1))
        assert later.subjects == frozenset({"x"}) and later.prior == SAMPLE_CAP
        assert later.spread == SAMPLE_CAP

    def test_nothing_new_returns_the_same_state(self) -> None:
        seen = observe(None, ["a", "b"], T0)
        assert observe(seen, ["a"], T0 + timedelta(hours=1)) is seen


def facts(
    keys: list[tuple[str, str]], spreads: dict[str, int], holders: dict[str, list[Candidate]]
):  # type: ignore[no-untyped-def]
    ekeys = [entity_key(kind, value) for kind, value in keys]
    assert all(k is not None for k in ekeys)
    by_value = {k.value: k for k in ekeys if k is not None}
    return EntityFacts(
        [k for k in ekeys if k is not None],
        {k.key: weight(k.kind, spreads.get(k.value, 1)) for k in ekeys if k is not None},
        {by_value[v].key: cands for v, cands in holders.items()},
    )


ALERT = {"ruleName": "LSASS access", "source": "edr", "createdAt": T0 + timedelta(hours=1)}


class TestDecide:
    def test_a_shared_rare_host_joins_and_says_which_entities(self) -> None:
        incident = cand(7)
        f = facts([("host", "ws-1"), ("ip", "10.0.0.1")], {}, {"ws-1": [incident]})
        decision = decide(ALERT, [], [ENTITY_RULE], T0, entities=f)
        assert isinstance(decision, AttachTo) and decision.incident_id == incident.id
        reason = decision.reason
        assert reason["rule"] == ENTITY_RULE.name and reason["strategy"] == "entities"
        assert reason["entities"] == [{"kind": "host", "value": "ws-1", "weight": 1.0}]
        assert reason["score"] == 1.0 and "#7" in reason["detail"]

    def test_a_common_entity_alone_does_not_glue(self) -> None:
        incident = cand(3)
        nat = facts([("ip", "198.51.100.7")], {"198.51.100.7": 40}, {"198.51.100.7": [incident]})
        decision = decide(ALERT, [], [ENTITY_RULE], T0, entities=nat)
        assert isinstance(decision, OpenNew)
        assert decision.reason["score"] < ENTITY_RULE.threshold
        assert "#3" in decision.reason["detail"]

    def test_weak_evidence_adds_up_across_kinds_but_not_within_one(self) -> None:
        incident = cand(4)
        # a common host (0.5 at 12 subjects) and a common DC account: two kinds add up
        two_kinds = facts(
            [("host", "dc-1"), ("account", "svc")],
            {"dc-1": 4 * FREE_SUBJECTS, "svc": 4 * FREE_SUBJECTS},
            {"dc-1": [incident], "svc": [incident]},
        )
        strict = Rule("r", "Shared entities", (), DAY, 5, None, ENTITIES, 1.0)
        decision = decide(ALERT, [], [strict], T0, entities=two_kinds)
        assert isinstance(decision, AttachTo) and decision.reason["score"] == 1.0
        # three hashes of one file are one piece of evidence: max per kind, not a sum
        hashes = [("filehash", c * 40) for c in "abc"]
        common = {h: 4 * FREE_SUBJECTS for _, h in hashes}
        one_kind = facts(hashes, common, {h: [incident] for _, h in hashes})
        decision = decide(ALERT, [], [strict], T0, entities=one_kind)
        assert isinstance(decision, OpenNew) and decision.reason["score"] == 0.5

    def test_the_highest_score_wins_and_refused_incidents_are_named(self) -> None:
        weak, strong = cand(1), cand(2)
        resolved = cand(3, status="RESOLVED")
        full = cand(5, alert_count=ENTITY_RULE.max_alerts)
        old = cand(6, first_alert_at=T0 - 2 * DAY)
        f = facts(
            [("host", "ws-1"), ("account", "alice"), ("ip", "10.0.0.1")],
            {},
            {"10.0.0.1": [weak, strong], "ws-1": [strong, resolved, full, old]},
        )
        decision = decide(ALERT, [], [ENTITY_RULE], T0, entities=f)
        assert isinstance(decision, AttachTo) and decision.incident_id == strong.id
        detail = decision.reason["detail"]
        for text in ("#3 is RESOLVED", "#5 is full", "#6 is outside the 1d window"):
            assert text in detail

    def test_rule_order_holds_between_strategies(self) -> None:
        key_rule = Rule("r-key", "Same detection", ("ruleName",), DAY, 5)
        from muster.grouping.decision import applicable, grouping_key

        keyed_incident = cand(
            9, grouping_key=grouping_key(key_rule, {"ruleName": ALERT["ruleName"]})
        )
        entity_incident = cand(10)
        f = facts([("host", "ws-1")], {}, {"ws-1": [entity_incident]})
        first_keys = decide(ALERT, [keyed_incident], [key_rule, ENTITY_RULE], T0, entities=f)
        assert isinstance(first_keys, AttachTo) and first_keys.incident_id == keyed_incident.id
        first_entities = decide(ALERT, [keyed_incident], [ENTITY_RULE, key_rule], T0, entities=f)
        assert isinstance(first_entities, AttachTo)
        assert first_entities.incident_id == entity_incident.id
        # an alert with nothing shared opens under the key rule, so its key can find it later
        nothing = EntityFacts([], {}, {}, names_any=False)
        alone = decide(ALERT, [], [ENTITY_RULE, key_rule], T0, entities=nothing)
        assert isinstance(alone, OpenNew) and alone.keyed is not None
        assert alone.keyed.rule is key_rule
        assert [k.rule for k in applicable(ALERT, [ENTITY_RULE, key_rule])] == [
            ENTITY_RULE,
            key_rule,
        ]


class TestBatchLearning:
    def test_an_address_seen_with_many_hosts_in_one_batch_loses_weight(self) -> None:
        rows = [{"hostname": f"host-{i}", "src_ip": "198.51.100.7"} for i in range(20)]
        named = [alert_keys(named_entities_of_row(row)) for row in rows]
        batch = EntityBatch(named, [], {})
        ip = entity_key("ip", "198.51.100.7")
        assert ip is not None
        weights = []
        for index in range(len(rows)):
            weights.append(weight("ip", batch.spread(ip.key)))
            batch.record(index, uuid.uuid4(), T0, T0)
        assert weights[0] == 0.5 and weights[-1] < 0.15
        assert weights == sorted(weights, reverse=True)
        (row,) = [r for r in batch.commonness_rows(uuid.uuid4(), T0) if r["entity_key"] == ip.key]
        assert len(row["subjects"]) == len(rows)
        # hosts seen only with themselves are not written as common
        assert all(r["kind"] != "host" for r in batch.commonness_rows(uuid.uuid4(), T0))

    def test_known_pairs_are_not_written_again_and_holders_are_bounded(self) -> None:
        incident = uuid.uuid4()
        named = [alert_keys(named_entities_of_row({"hostname": "ws-1"}))] * 2
        host = named[0][0]
        batch = EntityBatch(named, [Held(host.key, incident, "someone")], {})
        batch.record(0, incident, T0, T0)
        assert batch.index_rows(uuid.uuid4()) == []
        other = uuid.uuid4()
        batch.record(1, other, T0, T0)
        assert [r["incident_id"] for r in batch.index_rows(uuid.uuid4())] == [other]
        assert batch.spread(host.key) == 2  # "someone" from the index, ws-1 from the batch


def _metrics() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "cluster_metrics.py"
    spec = importlib.util.spec_from_file_location("cluster_metrics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class TestClusterMetrics:
    def test_textbook_adjusted_rand_index(self) -> None:
        m = _metrics()
        truth, predicted = [0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]
        # contingency pairs 2; predicted pairs 3; true pairs 6; 15 pairs in all:
        # expected 3*6/15 = 1.2, max (3+6)/2 = 4.5 -> (2-1.2)/(4.5-1.2)
        assert m.adjusted_rand_index(predicted, truth) == pytest.approx(0.8 / 3.3)
        assert m.adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
        assert m.adjusted_rand_index(["x", "x", "y"], [5, 5, 9]) == 1.0
        scores = m.pairwise(predicted, truth)
        assert (scores.precision, scores.recall) == (pytest.approx(2 / 3), pytest.approx(2 / 6))
        assert scores.f1 == pytest.approx(2 * (2 / 3) * (1 / 3) / (2 / 3 + 1 / 3))

    def test_separation_counts_mixing(self) -> None:
        m = _metrics()
        predicted = ["a", "a", "a", "b", "b", "c"]
        attack = [True, True, False, False, False, True]
        sep = m.separation(predicted, attack)
        assert (sep.incidents, sep.attack_incidents, sep.mixed_incidents) == (3, 2, 1)
        assert sep.noise_with_attack == pytest.approx(1 / 3)
        assert sep.attack_with_noise == pytest.approx(2 / 3)
        # a (2 attack, 1 noise) and c (1 attack) are attack-led; b's noise stays out of them
        assert sep.attack_led == 2
        assert sep.noise_in_attack_led == pytest.approx(1 / 3)
        assert sep.attack_outside_led == 0.0
        tie = m.separation(["x", "x", "y", "y", "y"], [True, False, True, False, False])
        assert (tie.attack_led, tie.noise_in_attack_led) == (1, pytest.approx(1 / 3))
        assert tie.attack_outside_led == pytest.approx(1 / 2)
        # same-incident pairs: a has 3 (1 same-label), b has 1 (same): 2 of 4
        assert sep.label_precision == pytest.approx(2 / 4)
        assert sep.attack_recall == pytest.approx(1 / math.comb(3, 2))
        assert sep.reduction == pytest.approx(2.0)
