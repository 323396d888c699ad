"""Unit tests for the pure grouping decision `muster.grouping.decision.decide` (plain values)."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muster.grouping.decision import (
    AttachTo,
    Candidate,
    Keyed,
    OpenNew,
    Rule,
    applicable,
    decide,
    grouping_key,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

HOST_RULE = Rule("r-host", "Same detection on the same host", ("ruleName", "hostname"), HOUR, 3)
USER_RULE = Rule("r-user", "Same detection for the same user", ("ruleName", "username"), HOUR, 3)
BURST_RULE = Rule("r-burst", "Same detection (burst)", ("ruleName",), HOUR, 3)


def make_alert(**over: Any) -> dict[str, Any]:
    """An alert as `decide` sees it (API field names, `createdAt` = event time)."""
    alert: dict[str, Any] = {
        "ruleName": "Brute force",
        "source": "EDR",
        "hostname": "ws-1",
        "username": "bob",
        "createdAt": T0,
    }
    alert.update(over)
    return alert


def key_of(rule: Rule, alert: dict[str, Any]) -> str:
    """The alert's grouping key under `rule` (the rule must apply)."""
    (keyed,) = applicable(alert, [rule])
    return keyed.key


def make_candidate(
    key: str | None,
    *,
    number: int = 1,
    status: str = "OPEN",
    grouping_allowed: bool = True,
    alert_count: int = 1,
    first_alert_at: datetime = T0,
    created_at: datetime = T0,
    last_alert_at: datetime | None = None,
) -> Candidate:
    return Candidate(
        id=uuid.uuid4(),
        number=number,
        grouping_key=key,
        status=status,
        grouping_allowed=grouping_allowed,
        alert_count=alert_count,
        first_alert_at=first_alert_at,
        created_at=created_at,
        last_alert_at=last_alert_at,
    )


class TestAttach:
    def test_joins_the_candidate_with_the_same_key(self) -> None:
        alert = make_alert()
        cand = make_candidate(key_of(HOST_RULE, alert), number=7)

        decision = decide(alert, [cand], [HOST_RULE], T0)

        assert isinstance(decision, AttachTo)
        assert decision.incident_id == cand.id
        assert decision.keyed.rule == HOST_RULE
        assert decision.keyed.key == cand.grouping_key

    def test_ignores_a_candidate_with_another_key(self) -> None:
        alert = make_alert()
        other = make_candidate(key_of(HOST_RULE, make_alert(hostname="ws-2")))

        decision = decide(alert, [other], [HOST_RULE], T0)

        assert isinstance(decision, OpenNew)
        assert decision.keyed is not None and decision.keyed.rule == HOST_RULE

    def test_ignores_a_candidate_without_a_key(self) -> None:
        decision = decide(make_alert(), [make_candidate(None)], [HOST_RULE], T0)
        assert isinstance(decision, OpenNew)

    @pytest.mark.parametrize("reverse", [False, True])
    def test_newest_candidate_wins(self, reverse: bool) -> None:
        alert = make_alert(createdAt=T0 + 10 * timedelta(minutes=1))
        key = key_of(HOST_RULE, alert)
        # newest by creation time, whatever the numbers say
        older = make_candidate(key, number=9, created_at=T0)
        newer = make_candidate(key, number=2, created_at=T0 + timedelta(minutes=5))
        cands = [newer, older] if reverse else [older, newer]

        decision = decide(alert, cands, [HOST_RULE], T0 + HOUR)

        assert isinstance(decision, AttachTo)
        assert decision.incident_id == newer.id

    @pytest.mark.parametrize("reverse", [False, True])
    def test_a_tie_in_creation_time_goes_to_the_higher_number(self, reverse: bool) -> None:
        """One batch opens several incidents at the same `now`; the later-numbered is newer."""
        alert = make_alert()
        key = key_of(HOST_RULE, alert)
        first = make_candidate(key, number=3)
        second = make_candidate(key, number=4)
        cands = [second, first] if reverse else [first, second]

        decision = decide(alert, cands, [HOST_RULE], T0)

        assert isinstance(decision, AttachTo)
        assert decision.incident_id == second.id

    def test_a_refused_newest_candidate_leaves_the_older_one(self) -> None:
        alert = make_alert()
        key = key_of(HOST_RULE, alert)
        older = make_candidate(key, number=1, created_at=T0 - timedelta(minutes=5))
        newer = make_candidate(key, number=2, created_at=T0, status="RESOLVED")

        decision = decide(alert, [newer, older], [HOST_RULE], T0)

        assert isinstance(decision, AttachTo)
        assert decision.incident_id == older.id
        assert "incident #2 is RESOLVED" in decision.reason["detail"]

    def test_under_investigation_still_takes_alerts(self) -> None:
        alert = make_alert()
        cand = make_candidate(key_of(HOST_RULE, alert), status="UNDER_INVESTIGATION")
        assert isinstance(decide(alert, [cand], [HOST_RULE], T0), AttachTo)

    def test_one_below_the_maximum_still_takes_the_alert(self) -> None:
        alert = make_alert()
        cand = make_candidate(key_of(HOST_RULE, alert), alert_count=HOST_RULE.max_alerts - 1)
        assert isinstance(decide(alert, [cand], [HOST_RULE], T0), AttachTo)

    def test_exactly_at_the_window_edge_still_joins(self) -> None:
        alert = make_alert(createdAt=T0 + HOUR)
        cand = make_candidate(key_of(HOST_RULE, alert), first_alert_at=T0)
        assert isinstance(decide(alert, [cand], [HOST_RULE], T0 + HOUR), AttachTo)

    def test_a_late_event_within_the_window_joins(self) -> None:
        """An alert whose event time precedes the incident's first alert, but within the window."""
        alert = make_alert(createdAt=T0 - timedelta(minutes=30))
        cand = make_candidate(key_of(HOST_RULE, alert), first_alert_at=T0)
        assert isinstance(decide(alert, [cand], [HOST_RULE], T0 + HOUR), AttachTo)

    def test_the_window_is_measured_from_the_event_time_not_now(self) -> None:
        """An alert arriving a day late still joins when its event time is inside the window."""
        alert = make_alert(createdAt=T0 + timedelta(minutes=10))
        cand = make_candidate(key_of(HOST_RULE, alert), first_alert_at=T0)
        decision = decide(alert, [cand], [HOST_RULE], T0 + timedelta(days=1))
        assert isinstance(decision, AttachTo)

    def test_without_created_at_the_window_is_measured_from_now(self) -> None:
        alert = make_alert()
        del alert["createdAt"]
        cand = make_candidate(key_of(HOST_RULE, alert), first_alert_at=T0)

        assert isinstance(decide(alert, [cand], [HOST_RULE], T0 + HOUR), AttachTo)
        late = decide(alert, [cand], [HOST_RULE], T0 + HOUR + timedelta(seconds=1))
        assert isinstance(late, OpenNew)


class TestRefusals:
    @pytest.mark.parametrize(
        ("over", "refusal"),
        [
            ({"status": "RESOLVED"}, "incident #4 is RESOLVED"),
            ({"grouping_allowed": False}, "incident #4 does not allow grouping"),
            ({"alert_count": 3}, "incident #4 is full (3 alerts)"),
            ({"alert_count": 50}, "incident #4 is full (50 alerts)"),
            ({"first_alert_at": T0 - HOUR - timedelta(seconds=1)}, "outside the 1h window"),
            ({"first_alert_at": T0 + HOUR + timedelta(seconds=1)}, "outside the 1h window"),
        ],
    )
    def test_refused_candidate_opens_a_new_incident_and_says_why(
        self, over: dict[str, Any], refusal: str
    ) -> None:
        alert = make_alert()
        cand = make_candidate(key_of(HOST_RULE, alert), number=4, **over)

        decision = decide(alert, [cand], [HOST_RULE], T0)

        assert isinstance(decision, OpenNew)
        assert decision.keyed is not None and decision.keyed.rule == HOST_RULE
        assert decision.reason["decision"] == "opened"
        assert refusal in decision.reason["detail"]
        assert "#4" in decision.reason["detail"]

    def test_every_refusal_is_named_once(self) -> None:
        alert = make_alert()
        key = key_of(HOST_RULE, alert)
        cands = [
            make_candidate(key, number=1, status="RESOLVED"),
            make_candidate(key, number=2, grouping_allowed=False),
            make_candidate(key, number=3, alert_count=99),
        ]

        detail = decide(alert, cands, [HOST_RULE], T0).reason["detail"]

        for text in ("#1 is RESOLVED", "#2 does not allow grouping", "#3 is full"):
            assert detail.count(text) == 1, detail

    def test_no_refusal_is_mentioned_when_nothing_was_refused(self) -> None:
        reason = decide(make_alert(), [], [HOST_RULE], T0).reason
        assert "(" not in reason["detail"]

    @pytest.mark.parametrize(
        ("window", "text"),
        [
            (timedelta(days=1), "1d"),
            (timedelta(hours=36), "36h"),
            (timedelta(days=2), "2d"),
            (timedelta(minutes=90), "90m"),
            (timedelta(seconds=90), "90s"),
        ],
    )
    def test_the_window_is_named_in_human_units(self, window: timedelta, text: str) -> None:
        rule = Rule("r", "Timed", ("ruleName",), window, 10)
        alert = make_alert()
        cand = make_candidate(key_of(rule, alert), first_alert_at=T0 - window * 2)

        detail = decide(alert, [cand], [rule], T0).reason["detail"]

        assert f"outside the {text} window" in detail


class TestRuleOrder:
    def test_first_rule_with_a_joinable_incident_wins(self) -> None:
        alert = make_alert()
        by_host = make_candidate(key_of(HOST_RULE, alert), number=1, created_at=T0)
        by_user = make_candidate(key_of(USER_RULE, alert), number=2, created_at=T0 + HOUR)

        first = decide(alert, [by_user, by_host], [HOST_RULE, USER_RULE], T0)
        swapped = decide(alert, [by_user, by_host], [USER_RULE, HOST_RULE], T0)

        assert isinstance(first, AttachTo) and first.incident_id == by_host.id
        assert isinstance(swapped, AttachTo) and swapped.incident_id == by_user.id

    def test_a_later_rule_is_tried_when_the_earlier_one_finds_nothing(self) -> None:
        alert = make_alert()
        by_user = make_candidate(key_of(USER_RULE, alert), number=2)

        decision = decide(alert, [by_user], [HOST_RULE, USER_RULE], T0)

        assert isinstance(decision, AttachTo)
        assert decision.incident_id == by_user.id
        assert decision.reason["rule"] == USER_RULE.name

    def test_refusals_of_earlier_rules_are_reported_too(self) -> None:
        alert = make_alert()
        by_host = make_candidate(key_of(HOST_RULE, alert), number=1, status="RESOLVED")
        by_user = make_candidate(key_of(USER_RULE, alert), number=2)

        decision = decide(alert, [by_host, by_user], [HOST_RULE, USER_RULE], T0)

        assert isinstance(decision, AttachTo) and decision.incident_id == by_user.id
        assert "incident #1 is RESOLVED" in decision.reason["detail"]

    def test_new_incident_is_filed_under_the_first_applicable_rule(self) -> None:
        alert = make_alert(hostname=None)

        decision = decide(alert, [], [HOST_RULE, USER_RULE, BURST_RULE], T0)

        assert isinstance(decision, OpenNew)
        assert decision.keyed is not None
        assert decision.keyed.rule == USER_RULE
        assert decision.keyed.key == key_of(USER_RULE, alert)
        assert decision.reason["rule"] == USER_RULE.name
        assert decision.reason["ruleId"] == USER_RULE.id

    def test_a_candidate_of_another_rule_with_equal_fields_is_not_taken(self) -> None:
        twin = Rule("r-twin", "Twin", HOST_RULE.key_fields, timedelta(days=1), 100)
        alert = make_alert()
        cand = make_candidate(key_of(twin, alert))

        decision = decide(alert, [cand], [HOST_RULE], T0)

        assert isinstance(decision, OpenNew)


class TestApplicability:
    @pytest.mark.parametrize("missing", [None, "", "absent"])
    def test_a_rule_whose_key_field_is_missing_is_skipped(self, missing: str | None) -> None:
        alert = make_alert(hostname=missing)
        if missing == "absent":
            del alert["hostname"]
        by_user = make_candidate(key_of(USER_RULE, alert))

        assert [k.rule for k in applicable(alert, [HOST_RULE, USER_RULE])] == [USER_RULE]
        decision = decide(alert, [by_user], [HOST_RULE, USER_RULE], T0)
        assert isinstance(decision, AttachTo) and decision.keyed.rule == USER_RULE

    def test_zero_is_a_value(self) -> None:
        rule = Rule("r-port", "Port", ("destPort",), HOUR, 5)
        assert [k.rule for k in applicable(make_alert(destPort=0), [rule])] == [rule]

    def test_no_applicable_rule_opens_an_unfiled_incident(self) -> None:
        alert = make_alert(hostname=None, username=None)
        cand = make_candidate(None)

        decision = decide(alert, [cand], [HOST_RULE, USER_RULE], T0)

        assert decision == OpenNew(None, decision.reason)
        assert decision.reason["decision"] == "opened"
        assert decision.reason["rule"] is None
        assert decision.reason["key"] == {}
        assert "no grouping rule applies" in decision.reason["detail"]

    def test_no_rules_at_all_opens_an_unfiled_incident(self) -> None:
        decision = decide(make_alert(), [], [], T0)
        assert isinstance(decision, OpenNew) and decision.keyed is None


class TestKey:
    def test_values_are_compared_case_insensitively(self) -> None:
        lower = key_of(HOST_RULE, make_alert(hostname="ws-1", ruleName="brute force"))
        upper = key_of(HOST_RULE, make_alert(hostname="WS-1", ruleName="BRUTE FORCE"))
        assert lower == upper

    def test_case_insensitive_key_joins_the_incident(self) -> None:
        cand = make_candidate(key_of(HOST_RULE, make_alert(hostname="WS-1")))
        decision = decide(make_alert(hostname="ws-1"), [cand], [HOST_RULE], T0)
        assert isinstance(decision, AttachTo)

    @pytest.mark.parametrize("field", ["ruleName", "hostname"])
    def test_different_values_give_different_keys(self, field: str) -> None:
        assert key_of(HOST_RULE, make_alert()) != key_of(HOST_RULE, make_alert(**{field: "x"}))

    def test_fields_outside_the_key_do_not_matter(self) -> None:
        assert key_of(HOST_RULE, make_alert()) == key_of(
            HOST_RULE, make_alert(username="someone-else", source="Other product")
        )

    def test_the_same_values_under_different_rules_give_different_keys(self) -> None:
        twin = Rule("r-twin", HOST_RULE.name, HOST_RULE.key_fields, HOUR, 3)
        alert = make_alert()
        keys = {key_of(rule, alert) for rule in (HOST_RULE, USER_RULE, BURST_RULE, twin)}
        assert len(keys) == 4

    def test_values_do_not_run_into_each_other(self) -> None:
        rule = Rule("r", "Two fields", ("hostname", "username"), HOUR, 3)
        assert grouping_key(rule, {"hostname": "ab", "username": "c"}) != grouping_key(
            rule, {"hostname": "a", "username": "bc"}
        )

    def test_the_key_is_stable(self) -> None:
        """Stored incidents keep their key across releases: the digest must not drift."""
        key = grouping_key(HOST_RULE, {"ruleName": "Brute force", "hostname": "ws-1"})
        assert key == grouping_key(HOST_RULE, {"hostname": "WS-1", "ruleName": "BRUTE FORCE"})
        assert len(key) == 32 and int(key, 16) >= 0


class TestReason:
    def test_attached_reason_names_rule_key_values_and_incident(self) -> None:
        alert = make_alert(hostname="WS-1")
        cand = make_candidate(key_of(HOST_RULE, alert), number=12)

        reason = decide(alert, [cand], [HOST_RULE], T0).reason

        assert reason["decision"] == "attached"
        assert reason["rule"] == HOST_RULE.name
        assert reason["ruleId"] == HOST_RULE.id
        assert reason["key"] == {"ruleName": "Brute force", "hostname": "WS-1"}
        assert "#12" in reason["detail"]
        assert "'WS-1'" in reason["detail"] and "'Brute force'" in reason["detail"]
        assert "1h" in reason["detail"]

    def test_opened_reason_names_rule_and_key_values(self) -> None:
        reason = decide(make_alert(), [], [HOST_RULE], T0).reason
        assert reason["decision"] == "opened"
        assert reason["rule"] == HOST_RULE.name
        assert reason["key"] == {"ruleName": "Brute force", "hostname": "ws-1"}
        assert "opened a new one" in reason["detail"]

    def test_decide_does_not_change_its_inputs(self) -> None:
        alert = make_alert()
        cands = [make_candidate(key_of(HOST_RULE, alert), status="RESOLVED")]
        rules = [HOST_RULE, USER_RULE]
        before = copy.deepcopy((alert, cands, rules))

        decide(alert, cands, rules, T0)

        assert (alert, cands, rules) == before


# --- properties --------------------------------------------------------------------------------

FIELDS = ("ruleName", "hostname", "username")
values = st.sampled_from([None, "", "a", "A", "a", "b"])
rules_st = st.lists(
    st.builds(
        lambda i, keys, hours, cap: Rule(
            f"r{i}", f"rule {i}", tuple(keys), timedelta(hours=hours), cap
        ),
        st.integers(0, 3),
        st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True),
        st.integers(1, 6),
        st.integers(1, 4),
    ),
    max_size=4,
    unique_by=lambda r: r.id,
)
offsets = st.integers(-8 * 60, 8 * 60).map(lambda m: T0 + timedelta(minutes=m))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[Candidate], list[Rule]]:
    """An alert, rules, and candidates filed under keys the alert may (or may not) have."""
    rules = draw(rules_st)
    alert = {name: draw(values) for name in FIELDS} | {"createdAt": draw(offsets)}
    other = {name: draw(values) for name in FIELDS}
    at = alert["createdAt"]
    own = [k.key for k in applicable(alert, rules)]
    keys = own + [k.key for k in applicable(other, rules)] + [None]
    cands = draw(
        st.lists(
            st.builds(
                Candidate,
                id=st.uuids(),
                number=st.integers(1, 50),
                # mostly the alert's own keys, so several candidates compete under one rule
                grouping_key=st.sampled_from(own) | st.sampled_from(keys)
                if own
                else st.sampled_from(keys),
                status=st.sampled_from(["OPEN", "OPEN", "UNDER_INVESTIGATION", "RESOLVED"]),
                grouping_allowed=st.sampled_from([True, True, True, False]),
                alert_count=st.integers(0, 2) | st.integers(0, 5),
                first_alert_at=offsets | st.integers(-60, 60).map(lambda m: at + m * MINUTE),
                # a coarse grid, so incidents created at the same instant (one batch) are common
                created_at=st.integers(-2, 2).map(lambda h: T0 + h * HOUR),
            ),
            max_size=8,
            unique_by=lambda c: c.id,
        )
    )
    return alert, cands, rules


def joinable(cand: Candidate, keyed: Keyed, at: datetime) -> bool:
    """The conditions of DESIGN.md §2, written independently of the implementation."""
    return (
        cand.grouping_key == keyed.key
        and cand.status != "RESOLVED"
        and cand.grouping_allowed
        and cand.alert_count < keyed.rule.max_alerts
        and cand.first_alert_at - keyed.rule.window <= at <= cand.first_alert_at + keyed.rule.window
    )


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_decision_follows_the_rules(
    scenario: tuple[dict[str, Any], list[Candidate], list[Rule]],
) -> None:
    alert, cands, rules = scenario
    at = alert["createdAt"]
    keyed = applicable(alert, rules)
    decision = decide(alert, cands, rules, T0)

    # The first applicable rule with a joinable candidate decides; its newest one is taken.
    for k in keyed:
        ok = [c for c in cands if joinable(c, k, at)]
        if ok:
            assert isinstance(decision, AttachTo)
            assert decision.keyed == k
            chosen = next(c for c in cands if c.id == decision.incident_id)
            assert chosen in ok
            assert chosen.created_at == max(c.created_at for c in ok)
            break
    else:
        assert isinstance(decision, OpenNew)
        assert decision.keyed == (keyed[0] if keyed else None)
        assert decision.reason["decision"] == "opened"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(1, 9)), min_size=1, max_size=6))
def test_the_newest_joinable_candidate_wins(created_and_numbers: list[tuple[int, int]]) -> None:
    alert = make_alert()
    key = key_of(HOST_RULE, alert)
    cands = [
        make_candidate(key, number=n, created_at=T0 + m * MINUTE) for m, n in created_and_numbers
    ]

    decision = decide(alert, cands, [HOST_RULE], T0)

    assert isinstance(decision, AttachTo)
    chosen = next(c for c in cands if c.id == decision.incident_id)
    assert chosen.created_at == max(c.created_at for c in cands)


@settings(max_examples=120, deadline=None)
@given(scenarios(), st.data())
def test_same_inputs_same_decision_whatever_the_candidate_order(
    scenario: tuple[dict[str, Any], list[Candidate], list[Rule]], data: st.DataObject
) -> None:
    alert, cands, rules = scenario
    first = decide(alert, cands, rules, T0)
    assert decide(alert, cands, rules, T0) == first
    shuffled = data.draw(st.permutations(cands))
    again = decide(alert, shuffled, rules, T0)
    assert type(again) is type(first)
    assert getattr(again, "incident_id", None) == getattr(first, "incident_id", None)
    assert again.keyed == first.keyed


class TestQuietGap:
    """`maxGapSeconds`: an incident takes alerts only while its last alert is recent."""

    RULE = dataclasses.replace(HOST_RULE, window=timedelta(hours=24), max_gap=timedelta(minutes=10))

    def test_an_incident_quiet_for_longer_than_the_gap_takes_no_more_alerts(self) -> None:
        alert = make_alert(createdAt=T0 + timedelta(minutes=25))
        cand = make_candidate(
            key_of(self.RULE, alert), number=4, last_alert_at=T0 + timedelta(minutes=14)
        )
        decision = decide(alert, [cand], [self.RULE], T0)
        assert isinstance(decision, OpenNew)
        assert "#4 has been quiet for more than 10m" in decision.reason["detail"]

    def test_within_the_gap_it_joins_even_long_after_the_first_alert(self) -> None:
        alert = make_alert(createdAt=T0 + timedelta(hours=5))
        cand = make_candidate(
            key_of(self.RULE, alert), last_alert_at=T0 + timedelta(hours=4, minutes=55)
        )
        decision = decide(alert, [cand], [self.RULE], T0)
        assert isinstance(decision, AttachTo) and decision.incident_id == cand.id

    def test_without_a_gap_only_the_window_counts(self) -> None:
        alert = make_alert(createdAt=T0 + timedelta(minutes=50))
        cand = make_candidate(key_of(HOST_RULE, alert), last_alert_at=T0)
        assert isinstance(decide(alert, [cand], [HOST_RULE], T0), AttachTo)
