"""Unit tests for the pure SLA clock `muster.sla.clock`: due times, states, due events and
the next check time (plain values; properties with hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muster.sla.clock import (
    EARLIEST_BREACH,
    SlaFacts,
    SlaState,
    Target,
    after_scan,
    due_events,
    due_times,
    flag,
    next_check_at,
    overall_state,
    raise_events,
    risk_at,
    target_state,
)
from muster.sla.policy import DEFAULT_POLICY, Policy, Targets

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
F = 0.75
# response due at T0+40m (at risk from T0+30m), resolution due at T0+4h (at risk from T0+3h)
RESPONSE_DUE, RESOLUTION_DUE = T0 + 40 * MIN, T0 + 240 * MIN
FRESH = SlaFacts(T0, RESPONSE_DUE, RESOLUTION_DUE)
ALL_RAISED = 15


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class TestDueTimes:
    @pytest.mark.parametrize("severity", [1, 2, 3, 4])
    def test_from_created_at_and_the_severity_targets(self, severity: int) -> None:
        due = due_times(T0, severity, DEFAULT_POLICY)
        targets = DEFAULT_POLICY.for_severity(severity)
        assert due.response_due_at == T0 + targets.response
        assert due.resolution_due_at == T0 + targets.resolution

    def test_a_tenant_policy_applies(self) -> None:
        policy = Policy(
            {s: Targets(timedelta(seconds=2), timedelta(seconds=5)) for s in (1, 2, 3, 4)}
        )
        due = due_times(T0, 3, policy)
        assert (due.response_due_at, due.resolution_due_at) == (
            T0 + timedelta(seconds=2),
            T0 + timedelta(seconds=5),
        )

    def test_risk_at_is_the_fraction_of_the_target(self) -> None:
        assert risk_at(T0, RESPONSE_DUE, 0.75) == at(30)
        assert risk_at(T0, RESOLUTION_DUE, 0.5) == at(120)


class TestTargetState:
    @pytest.mark.parametrize(
        ("minutes", "state"),
        [
            (0, SlaState.OK),
            (29.99, SlaState.OK),
            (30, SlaState.AT_RISK),  # exactly 75 %: at risk
            (40, SlaState.AT_RISK),  # exactly due: not breached yet
            (40.001, SlaState.BREACHED),
            (500, SlaState.BREACHED),
        ],
    )
    def test_an_open_response_target_over_time(self, minutes: float, state: SlaState) -> None:
        assert target_state(FRESH, Target.RESPONSE, F, at(minutes)) is state

    def test_breached_one_microsecond_after_due(self) -> None:
        assert target_state(FRESH, Target.RESPONSE, F, RESPONSE_DUE) is SlaState.AT_RISK
        later = RESPONSE_DUE + EARLIEST_BREACH
        assert target_state(FRESH, Target.RESPONSE, F, later) is SlaState.BREACHED

    @pytest.mark.parametrize(
        ("responded", "state"),
        [(at(10), SlaState.MET), (RESPONSE_DUE, SlaState.MET), (at(41), SlaState.BREACHED)],
    )
    def test_an_achieved_target_is_met_or_breached_for_good(
        self, responded: datetime, state: SlaState
    ) -> None:
        facts = replace(FRESH, responded_at=responded)
        for now in (responded, at(1000)):
            assert target_state(facts, Target.RESPONSE, F, now) is state

    def test_resolving_achieves_the_response_when_nobody_responded(self) -> None:
        facts = replace(FRESH, resolved_at=at(20))  # closed by automation
        assert target_state(facts, Target.RESPONSE, F, at(1000)) is SlaState.MET
        assert target_state(facts, Target.RESOLUTION, F, at(1000)) is SlaState.MET

    def test_without_a_due_time_a_target_never_breaches(self) -> None:
        legacy = SlaFacts(T0, None, None)
        assert target_state(legacy, Target.RESPONSE, F, at(10**6)) is SlaState.OK
        done = replace(legacy, responded_at=at(10**5))
        assert target_state(done, Target.RESPONSE, F, at(10**6)) is SlaState.MET


class TestOverallState:
    def test_excluded_wins_over_everything(self) -> None:
        facts = replace(FRESH, exclude_from_sla=True)
        assert overall_state(facts, F, at(10**4)) is SlaState.EXCLUDED

    def test_breached_wins_over_at_risk(self) -> None:
        # response breached at 41m while resolution is at risk from 3h
        assert overall_state(FRESH, F, at(200)) is SlaState.BREACHED

    def test_at_risk_when_an_open_target_is(self) -> None:
        facts = replace(FRESH, responded_at=at(5))
        assert overall_state(facts, F, at(100)) is SlaState.OK
        assert overall_state(facts, F, at(180)) is SlaState.AT_RISK

    def test_met_needs_both_targets(self) -> None:
        facts = replace(FRESH, responded_at=at(5))
        assert overall_state(facts, F, at(10)) is SlaState.OK
        resolved = replace(facts, resolved_at=at(60))
        assert overall_state(resolved, F, at(10**4)) is SlaState.MET

    def test_a_late_resolution_is_breached_for_good(self) -> None:
        facts = replace(FRESH, responded_at=at(5), resolved_at=at(241))
        assert overall_state(facts, F, at(10**4)) is SlaState.BREACHED

    def test_a_reopen_makes_the_resolution_open_again(self) -> None:
        resolved = replace(FRESH, responded_at=at(5), resolved_at=at(60))
        reopened = replace(resolved, resolved_at=None)
        assert overall_state(resolved, F, at(300)) is SlaState.MET
        assert overall_state(reopened, F, at(300)) is SlaState.BREACHED


class TestDueEvents:
    def test_nothing_before_the_threshold(self) -> None:
        assert due_events(FRESH, F, at(29)) == []

    def test_at_risk_then_breached(self) -> None:
        (risk,) = due_events(FRESH, F, at(30))
        assert (risk.target, risk.state, risk.due_at) == (
            Target.RESPONSE,
            SlaState.AT_RISK,
            RESPONSE_DUE,
        )
        assert risk.action == "sla.at_risk"
        facts = replace(FRESH, raised=raise_events(0, [risk]))
        assert due_events(facts, F, at(35)) == []
        (breach,) = due_events(facts, F, at(41))
        assert (breach.target, breach.state, breach.action) == (
            Target.RESPONSE,
            SlaState.BREACHED,
            "sla.breached",
        )

    def test_a_late_scan_skips_the_at_risk_event_of_a_breached_target(self) -> None:
        events = due_events(FRESH, F, at(100))  # first scan long after the response was due
        assert [(e.target, e.state) for e in events] == [(Target.RESPONSE, SlaState.BREACHED)]
        raised = raise_events(0, events)
        assert raised == flag(Target.RESPONSE, SlaState.AT_RISK) | flag(
            Target.RESPONSE, SlaState.BREACHED
        )
        assert due_events(replace(FRESH, raised=raised), F, at(39)) == []

    def test_both_targets_at_once(self) -> None:
        events = due_events(FRESH, F, at(10**4))
        assert {(e.target, e.state) for e in events} == {
            (Target.RESPONSE, SlaState.BREACHED),
            (Target.RESOLUTION, SlaState.BREACHED),
        }

    def test_achieved_targets_raise_nothing(self) -> None:
        facts = replace(FRESH, responded_at=at(1), resolved_at=at(2))
        assert due_events(facts, F, at(10**4)) == []

    def test_excluded_incidents_raise_nothing(self) -> None:
        assert due_events(replace(FRESH, exclude_from_sla=True), F, at(10**4)) == []

    def test_a_breach_is_not_raised_again_after_a_reopen(self) -> None:
        facts = replace(FRESH, responded_at=at(1))
        events, facts = after_scan(facts, F, at(250))
        assert [(e.target, e.state) for e in events] == [(Target.RESOLUTION, SlaState.BREACHED)]
        resolved = replace(facts, resolved_at=at(260))
        reopened = replace(resolved, resolved_at=None)
        assert due_events(reopened, F, at(300)) == []
        assert next_check_at(reopened, F) is None

    def test_a_raised_breach_settles_the_at_risk_event_even_if_only_its_bit_is_set(
        self,
    ) -> None:
        facts = replace(FRESH, raised=flag(Target.RESPONSE, SlaState.BREACHED))
        assert due_events(facts, F, at(35)) == []
        assert next_check_at(facts, F) == at(180)

    def test_flags_are_distinct_bits(self) -> None:
        bits = [flag(t, s) for t in Target for s in (SlaState.AT_RISK, SlaState.BREACHED)]
        assert sorted(bits) == [1, 2, 4, 8]


class TestNextCheckAt:
    def test_first_the_response_at_risk_time(self) -> None:
        assert next_check_at(FRESH, F) == at(30)

    def test_then_the_breach_one_microsecond_after_due(self) -> None:
        facts = replace(FRESH, raised=flag(Target.RESPONSE, SlaState.AT_RISK))
        assert next_check_at(facts, F) == RESPONSE_DUE + EARLIEST_BREACH

    def test_a_response_moves_on_to_the_resolution(self) -> None:
        facts = replace(FRESH, responded_at=at(3))
        assert next_check_at(facts, F) == at(180)

    @pytest.mark.parametrize(
        "facts",
        [
            replace(FRESH, exclude_from_sla=True),
            replace(FRESH, resolved_at=at(3)),
            replace(FRESH, raised=ALL_RAISED),
            SlaFacts(T0, None, None),
        ],
    )
    def test_none_when_nothing_is_left(self, facts: SlaFacts) -> None:
        assert next_check_at(facts, F) is None


# --- properties ---------------------------------------------------------------------------

seconds = st.integers(min_value=1, max_value=10_000)


@st.composite
def incidents(draw: st.DrawFn) -> SlaFacts:
    response = timedelta(seconds=draw(seconds))
    resolution = response + timedelta(seconds=draw(st.integers(0, 10_000)))
    responded = draw(st.none() | st.integers(0, 20_000))
    resolved = draw(st.none() | st.integers(0, 20_000))
    if responded is not None and resolved is not None:
        responded = min(responded, resolved)
    return SlaFacts(
        T0,
        T0 + response,
        T0 + resolution,
        None if responded is None else T0 + timedelta(seconds=responded),
        None if resolved is None else T0 + timedelta(seconds=resolved),
        draw(st.booleans()) and draw(st.booleans()),  # excluded now and then
    )


fractions = st.floats(min_value=0.01, max_value=0.99)
scan_gaps = st.lists(st.integers(1, 3_000), min_size=1, max_size=30)


def _known_by(facts: SlaFacts, now: datetime) -> SlaFacts:
    """The incident as a scan at `now` sees it (achievements after `now` not yet made)."""
    return replace(
        facts,
        responded_at=facts.responded_at
        if facts.responded_at and facts.responded_at <= now
        else None,
        resolved_at=facts.resolved_at if facts.resolved_at and facts.resolved_at <= now else None,
    )


@settings(max_examples=400, deadline=None)
@given(incidents(), fractions, scan_gaps)
def test_each_event_is_raised_once_and_never_early(
    facts: SlaFacts, fraction: float, gaps: list[int]
) -> None:
    raised_so_far: list[tuple[Target, SlaState]] = []
    raised = 0
    now = T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        seen = replace(_known_by(facts, now), raised=raised)
        events, after = after_scan(seen, fraction, now)
        for event in events:
            due = seen.due(event.target)
            assert due is not None
            threshold = (
                due + EARLIEST_BREACH
                if event.state is SlaState.BREACHED
                else risk_at(T0, due, fraction)
            )
            assert now >= threshold
            assert target_state(seen, event.target, fraction, now) is event.state
            assert overall_state(seen, fraction, now) in (SlaState.AT_RISK, SlaState.BREACHED)
            raised_so_far.append((event.target, event.state))
        raised = after.raised
    assert len(raised_so_far) == len(set(raised_so_far))
    if facts.exclude_from_sla:
        assert raised_so_far == []


@settings(max_examples=400, deadline=None)
@given(incidents(), fractions, st.integers(0, 20_000), st.integers(0, 15))
def test_nothing_falls_due_before_the_next_check_and_something_does_at_it(
    facts: SlaFacts, fraction: float, offset: int, raised: int
) -> None:
    now = T0 + timedelta(seconds=offset)
    seen = replace(_known_by(facts, now), raised=raised)
    _, after = after_scan(seen, fraction, now)
    check = next_check_at(after, fraction)
    if check is None:
        assert due_events(after, fraction, now + timedelta(days=365)) == []
        return
    assert check > now
    assert due_events(after, fraction, check - EARLIEST_BREACH) == []
    assert due_events(after, fraction, check) != []


@settings(max_examples=300, deadline=None)
@given(incidents(), fractions, st.integers(0, 25_000))
def test_a_breach_event_is_due_exactly_when_the_state_turns_breached(
    facts: SlaFacts, fraction: float, offset: int
) -> None:
    now = T0 + timedelta(seconds=offset)
    seen = _known_by(facts, now)
    breaches = {e.target for e in due_events(seen, fraction, now) if e.state is SlaState.BREACHED}
    for target in Target:
        open_breach = (
            not seen.exclude_from_sla
            and seen.achieved_at(target) is None
            and target_state(seen, target, fraction, now) is SlaState.BREACHED
        )
        assert (target in breaches) == open_breach
