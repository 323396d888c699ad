"""Unit tests for the pure incident lifecycle `muster.incidents.lifecycle` (plain values)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from muster.errors import DomainError, InvalidInput, InvalidTransition
from muster.incidents.lifecycle import (
    EDITABLE,
    SOAR,
    SYSTEM,
    TRANSITIONS,
    Actor,
    Outcome,
    respond_by_comment,
    transition,
)
from muster.models.enums import IncidentStatus, Resolution

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=2)
STATUSES = [s.value for s in IncidentStatus]

ANA = Actor("user", "ana@corp.example", "Ana Lyst")
KEY = Actor("apikey", "key-1", "ci key")
MEMBERS = {"ana@corp.example": "Ana Lyst", "bo@corp.example": "Bo Berg"}


def make_state(**over: Any) -> dict[str, Any]:
    """A consistent incident as `transition` sees it."""
    state: dict[str, Any] = {
        "description": "Brute force on ws-1",
        "details": "",
        "severity": 3,
        "assignee": None,
        "assignee_name": None,
        "status": "OPEN",
        "resolution": None,
        "resolution_reason": None,
        "resolution_comment": None,
        "mitre_tactic": None,
        "mitre_technique": None,
        "grouping_allowed": True,
        "exclude_from_sla": False,
        "tags": [],
        "responded_at": None,
        "resolved_at": None,
    }
    state.update(over)
    return state


def resolved_state(**over: Any) -> dict[str, Any]:
    return make_state(
        status="RESOLVED",
        resolution="TRUE_POSITIVE",
        resolution_comment="confirmed",
        resolved_at=T0,
        responded_at=T0,
        **over,
    )


def apply(state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """What the service does with an outcome."""
    new = dict(state)
    for name, (before, after) in outcome.changes.items():
        assert state.get(name) == before
        new[name] = after
    return new


def status_request(target: str) -> dict[str, Any]:
    return (
        {"status": target, "resolution": "TRUE_POSITIVE"}
        if target == "RESOLVED"
        else {"status": target}
    )


def state_in(status: str) -> dict[str, Any]:
    return resolved_state() if status == "RESOLVED" else make_state(status=status)


class TestTransitionTable:
    def test_the_table_covers_every_status(self) -> None:
        assert set(TRANSITIONS) == set(STATUSES)
        for targets in TRANSITIONS.values():
            assert targets <= set(STATUSES)

    @pytest.mark.parametrize(
        ("before", "after"), [(b, a) for b, a in itertools.product(STATUSES, STATUSES) if b != a]
    )
    def test_every_move_follows_the_table(self, before: str, after: str) -> None:
        state = state_in(before)
        if after in TRANSITIONS[before]:
            outcome = transition(state, status_request(after), ANA, MEMBERS, LATER)
            assert outcome.changes["status"] == (before, after)
            assert "incident.status_changed" in outcome.events
        else:
            with pytest.raises(InvalidTransition):
                transition(state, status_request(after), ANA, MEMBERS, LATER)

    @pytest.mark.parametrize("status", STATUSES)
    def test_same_status_is_no_change(self, status: str) -> None:
        state = state_in(status)
        outcome = transition(state, {"status": status}, ANA, MEMBERS, LATER)
        assert "status" not in outcome.changes
        assert "incident.status_changed" not in outcome.events

    @pytest.mark.parametrize("target", ["CLOSED", "open", "", None])
    def test_an_unknown_status_is_refused(self, target: Any) -> None:
        with pytest.raises(InvalidInput) as info:
            transition(make_state(), {"status": target}, ANA, MEMBERS, LATER)
        assert info.value.errors[0]["field"] == "status"

    def test_the_full_cycle(self) -> None:
        state = make_state()
        for request in (
            {"status": "UNDER_INVESTIGATION"},
            {"status": "RESOLVED", "resolution": "FALSE_POSITIVE"},
            {"status": "OPEN"},
            {"status": "RESOLVED", "resolution": "TRUE_POSITIVE"},
        ):
            state = apply(state, transition(state, request, ANA, MEMBERS, LATER))
        assert state["status"] == "RESOLVED" and state["resolution"] == "TRUE_POSITIVE"


class TestResolution:
    @pytest.mark.parametrize("before", ["OPEN", "UNDER_INVESTIGATION"])
    def test_resolving_needs_a_resolution(self, before: str) -> None:
        with pytest.raises(InvalidTransition) as info:
            transition(make_state(status=before), {"status": "RESOLVED"}, ANA, MEMBERS, LATER)
        assert info.value.code == "incident.resolution_required"
        assert info.value.errors[0]["field"] == "resolution"

    @pytest.mark.parametrize("empty", [None, ""])
    def test_an_empty_resolution_does_not_count(self, empty: str | None) -> None:
        with pytest.raises(InvalidTransition):
            transition(
                make_state(), {"status": "RESOLVED", "resolution": empty}, ANA, MEMBERS, LATER
            )

    @pytest.mark.parametrize("resolution", [r.value for r in Resolution])
    def test_resolving_with_a_resolution(self, resolution: str) -> None:
        outcome = transition(
            make_state(), {"status": "RESOLVED", "resolution": resolution}, ANA, MEMBERS, LATER
        )
        assert outcome.changes["resolution"] == (None, resolution)
        assert outcome.changes["resolved_at"] == (None, LATER)
        assert outcome.action == "incident.resolved"

    def test_a_resolution_already_in_the_state_is_enough(self) -> None:
        """E.g. a merge sets DUPLICATE first; the state's resolution satisfies the rule."""
        state = make_state(resolution="DUPLICATE")
        outcome = transition(state, {"status": "RESOLVED"}, ANA, MEMBERS, LATER)
        assert outcome.changes["status"] == ("OPEN", "RESOLVED")

    def test_clearing_the_resolution_of_a_resolved_incident_is_refused(self) -> None:
        with pytest.raises(InvalidTransition) as info:
            transition(resolved_state(), {"resolution": None}, ANA, MEMBERS, LATER)
        assert info.value.code == "incident.resolution_required"

    def test_changing_the_resolution_of_a_resolved_incident(self) -> None:
        outcome = transition(
            resolved_state(), {"resolution": "BENIGN_POSITIVE"}, ANA, MEMBERS, LATER
        )
        assert outcome.changes == {"resolution": ("TRUE_POSITIVE", "BENIGN_POSITIVE")}
        assert "resolved_at" not in outcome.changes
        assert outcome.action == "incident.updated"

    @pytest.mark.parametrize("status", ["OPEN", "UNDER_INVESTIGATION"])
    def test_a_resolution_without_resolved_is_refused(self, status: str) -> None:
        with pytest.raises(InvalidTransition) as info:
            transition(
                make_state(status=status), {"resolution": "TRUE_POSITIVE"}, ANA, MEMBERS, LATER
            )
        assert info.value.code == "incident.resolution_without_resolved"

    def test_reopening_with_a_resolution_is_refused(self) -> None:
        with pytest.raises(InvalidTransition):
            transition(
                resolved_state(),
                {"status": "OPEN", "resolution": "TRUE_POSITIVE"},
                ANA,
                MEMBERS,
                LATER,
            )

    @pytest.mark.parametrize("target", ["OPEN", "UNDER_INVESTIGATION"])
    def test_reopening_clears_the_verdict(self, target: str) -> None:
        outcome = transition(resolved_state(), {"status": target}, ANA, MEMBERS, LATER)
        assert outcome.changes["resolution"] == ("TRUE_POSITIVE", None)
        assert outcome.changes["resolution_comment"] == ("confirmed", None)
        assert outcome.changes["resolved_at"] == (T0, None)
        assert "responded_at" not in outcome.changes
        assert outcome.action == "incident.reopened"
        assert "incident.reopened" in outcome.events

    def test_resolving_again_stamps_a_new_resolved_at(self) -> None:
        state = resolved_state()
        state = apply(state, transition(state, {"status": "OPEN"}, ANA, MEMBERS, T0))
        outcome = transition(
            state, {"status": "RESOLVED", "resolution": "DUPLICATE"}, ANA, MEMBERS, LATER
        )
        assert outcome.changes["resolved_at"] == (None, LATER)

    def test_staying_resolved_keeps_resolved_at(self) -> None:
        outcome = transition(resolved_state(), {"severity": 4}, ANA, MEMBERS, LATER)
        assert outcome.changes == {"severity": (3, 4)}


class TestAssignee:
    def test_a_member_is_assigned_with_their_name(self) -> None:
        outcome = transition(make_state(), {"assignee": "ana@corp.example"}, ANA, MEMBERS, LATER)
        assert outcome.changes["assignee"] == (None, "ana@corp.example")
        assert outcome.changes["assignee_name"] == (None, "Ana Lyst")
        assert outcome.action == "incident.assigned"

    def test_the_email_is_normalised(self) -> None:
        outcome = transition(make_state(), {"assignee": "  Bo@Corp.Example "}, ANA, MEMBERS, LATER)
        assert outcome.changes["assignee"] == (None, "bo@corp.example")
        assert outcome.changes["assignee_name"] == (None, "Bo Berg")

    def test_soar(self) -> None:
        outcome = transition(make_state(), {"assignee": "SOAR"}, SYSTEM, MEMBERS, LATER)
        assert outcome.changes["assignee"] == (None, "SOAR")
        assert outcome.changes["assignee_name"] == (None, "SOAR")

    def test_unassigning_clears_the_name(self) -> None:
        state = make_state(assignee="ana@corp.example", assignee_name="Ana Lyst")
        outcome = transition(state, {"assignee": None}, ANA, MEMBERS, LATER)
        assert outcome.changes["assignee"] == ("ana@corp.example", None)
        assert outcome.changes["assignee_name"] == ("Ana Lyst", None)

    def test_reassigning_follows_the_name(self) -> None:
        state = make_state(assignee="ana@corp.example", assignee_name="Ana Lyst")
        outcome = transition(state, {"assignee": "bo@corp.example"}, ANA, MEMBERS, LATER)
        assert outcome.changes["assignee_name"] == ("Ana Lyst", "Bo Berg")

    @pytest.mark.parametrize("who", ["eve@elsewhere.example", "soar", "", "Ana Lyst"])
    def test_a_non_member_is_refused(self, who: str) -> None:
        with pytest.raises(InvalidInput) as info:
            transition(make_state(), {"assignee": who}, ANA, MEMBERS, LATER)
        assert info.value.code == "incident.assignee_not_member"
        assert info.value.errors[0]["field"] == "assignee"

    def test_the_same_assignee_again_is_no_change(self) -> None:
        state = make_state(assignee="ana@corp.example", assignee_name="Ana Lyst")
        outcome = transition(state, {"assignee": "ana@corp.example"}, ANA, MEMBERS, LATER)
        assert outcome.changes == {}
        assert "incident.assigned" not in outcome.events


class TestRespondedAt:
    @pytest.mark.parametrize("target", ["UNDER_INVESTIGATION", "RESOLVED"])
    @pytest.mark.parametrize("actor", [ANA, KEY])
    def test_first_move_out_of_open_is_a_response(self, target: str, actor: Actor) -> None:
        outcome = transition(make_state(), status_request(target), actor, MEMBERS, LATER)
        assert outcome.changes["responded_at"] == (None, LATER)
        assert "incident.responded" in outcome.events

    def test_first_assignment_to_a_person_is_a_response(self) -> None:
        outcome = transition(make_state(), {"assignee": "bo@corp.example"}, ANA, MEMBERS, LATER)
        assert outcome.changes["responded_at"] == (None, LATER)

    @pytest.mark.parametrize("assignee", ["SOAR", None])
    def test_assigning_to_soar_or_nobody_is_not_a_response(self, assignee: str | None) -> None:
        state = make_state(assignee="ana@corp.example", assignee_name="Ana Lyst")
        outcome = transition(state, {"assignee": assignee}, ANA, MEMBERS, LATER)
        assert "responded_at" not in outcome.changes

    @pytest.mark.parametrize("actor", [SOAR, SYSTEM])
    def test_automation_never_responds(self, actor: Actor) -> None:
        moved = transition(make_state(), {"status": "UNDER_INVESTIGATION"}, actor, MEMBERS, LATER)
        assigned = transition(make_state(), {"assignee": "bo@corp.example"}, actor, MEMBERS, LATER)
        commented = respond_by_comment(make_state(), actor, LATER)
        for outcome in (moved, assigned, commented):
            assert "responded_at" not in outcome.changes
            assert "incident.responded" not in outcome.events

    def test_other_edits_are_not_a_response(self) -> None:
        outcome = transition(make_state(), {"severity": 4, "tags": ["x"]}, ANA, MEMBERS, LATER)
        assert "responded_at" not in outcome.changes

    def test_a_persons_move_after_automation_is_the_first_response(self) -> None:
        # automation moved it out of OPEN; the first person to change its status responds
        state = make_state(status="UNDER_INVESTIGATION")
        outcome = transition(state, status_request("RESOLVED"), ANA, MEMBERS, LATER)
        assert outcome.changes["responded_at"] == (None, LATER)

    @pytest.mark.parametrize("actor", [SOAR, SYSTEM])
    def test_automation_moving_between_later_statuses_is_not_a_response(self, actor: Actor) -> None:
        state = make_state(status="UNDER_INVESTIGATION")
        outcome = transition(state, status_request("RESOLVED"), actor, MEMBERS, LATER)
        assert "responded_at" not in outcome.changes

    @pytest.mark.parametrize(
        "request_",
        [
            {"status": "UNDER_INVESTIGATION"},
            {"assignee": "bo@corp.example"},
            {"status": "RESOLVED", "resolution": "TRUE_POSITIVE"},
        ],
    )
    def test_never_overwritten(self, request_: dict[str, Any]) -> None:
        state = make_state(responded_at=T0)
        outcome = transition(state, request_, ANA, MEMBERS, LATER)
        assert "responded_at" not in outcome.changes

    def test_a_comment_by_a_person_is_a_response(self) -> None:
        outcome = respond_by_comment(make_state(), ANA, LATER)
        assert outcome.changes == {"responded_at": (None, LATER)}
        assert outcome.events == ["incident.responded"]

    def test_a_later_comment_does_not_move_it(self) -> None:
        outcome = respond_by_comment(make_state(responded_at=T0), ANA, LATER)
        assert outcome.changes == {} and outcome.events == []

    def test_a_client_cannot_set_it(self) -> None:
        with pytest.raises(InvalidInput):
            transition(make_state(), {"responded_at": LATER}, ANA, MEMBERS, LATER)


class TestEditsAndEvents:
    @pytest.mark.parametrize(
        "name",
        [
            "responded_at",
            "resolved_at",
            "assignee_name",
            "incident_hash",
            "number",
            "id",
            "tenant_id",
            "created_at",
            "soar_status",
            "version",
        ],
    )
    def test_an_uneditable_field_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidInput) as info:
            transition(make_state(), {name: "x"}, ANA, MEMBERS, LATER)
        assert info.value.errors[0]["field"] == name
        assert "not editable" in info.value.errors[0]["message"]

    def test_plain_edits(self) -> None:
        request = {
            "description": "new title",
            "severity": 4,
            "tags": ["a", "b"],
            "grouping_allowed": False,
            "exclude_from_sla": True,
        }
        outcome = transition(make_state(), request, ANA, MEMBERS, LATER)
        assert outcome.changes == {
            "description": ("Brute force on ws-1", "new title"),
            "severity": (3, 4),
            "tags": ([], ["a", "b"]),
            "grouping_allowed": (True, False),
            "exclude_from_sla": (False, True),
        }
        assert outcome.events == ["incident.updated"]
        assert outcome.action == "incident.updated"

    def test_an_unchanged_value_is_no_change(self) -> None:
        outcome = transition(make_state(), {"severity": 3, "tags": []}, ANA, MEMBERS, LATER)
        assert outcome.changes == {} and outcome.events == []
        assert outcome.action == "incident.updated"

    def test_every_editable_field_can_be_sent(self) -> None:
        """Guards the table: each name in EDITABLE is accepted on its own."""
        values = {"status": "OPEN", "assignee": None, "resolution": None}
        for name in EDITABLE:
            transition(
                make_state(), {name: values.get(name, make_state()[name])}, ANA, MEMBERS, LATER
            )

    @pytest.mark.parametrize(
        ("request_", "action"),
        [
            (
                {
                    "status": "RESOLVED",
                    "resolution": "TRUE_POSITIVE",
                    "assignee": "bo@corp.example",
                },
                "incident.resolved",
            ),
            (
                {"status": "UNDER_INVESTIGATION", "assignee": "bo@corp.example"},
                "incident.status_changed",
            ),
            ({"assignee": "bo@corp.example", "severity": 1}, "incident.assigned"),
        ],
    )
    def test_the_action_is_the_most_significant_event(
        self, request_: dict[str, Any], action: str
    ) -> None:
        assert transition(make_state(), request_, ANA, MEMBERS, LATER).action == action

    def test_events_of_a_resolve(self) -> None:
        outcome = transition(make_state(), status_request("RESOLVED"), ANA, MEMBERS, LATER)
        assert outcome.events[:3] == [
            "incident.status_changed",
            "incident.resolved",
            "incident.responded",
        ]

    def test_the_input_state_is_not_changed(self) -> None:
        state = resolved_state()
        copy = dict(state)
        transition(state, {"status": "OPEN"}, ANA, MEMBERS, LATER)
        assert state == copy

    def test_the_actor_kinds(self) -> None:
        assert ANA.is_human and KEY.is_human
        assert not SOAR.is_human and not SYSTEM.is_human


# --- a state machine over random request sequences ---------------------------------------------

requests = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(STATUSES),
        "resolution": st.sampled_from([None, *(r.value for r in Resolution)]),
        "resolution_comment": st.sampled_from([None, "why"]),
        "assignee": st.sampled_from(
            [None, "SOAR", "ana@corp.example", "BO@corp.example", "eve@elsewhere.example"]
        ),
        "severity": st.integers(1, 4),
        "tags": st.lists(st.sampled_from(["x", "y"]), max_size=2),
    },
)
actors = st.sampled_from([ANA, KEY, SOAR, SYSTEM])


class IncidentMachine(RuleBasedStateMachine):
    """Random requests against one incident; refused requests change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.state = make_state()
        self.now = T0
        self.first_response: datetime | None = None

    @rule(request=requests, actor=actors)
    def edit(self, request: dict[str, Any], actor: Actor) -> None:
        self.now += timedelta(minutes=1)
        try:
            outcome = transition(self.state, request, actor, MEMBERS, self.now)
        except DomainError as exc:
            assert isinstance(exc, InvalidInput | InvalidTransition)
            return
        before = self.state
        self.state = apply(self.state, outcome)
        for name, value in request.items():
            if name != "assignee" and not (
                name.startswith("resolution")
                and before["status"] == "RESOLVED"
                and self.state["status"] != "RESOLVED"
            ):
                assert self.state[name] == value
        if "resolved_at" in outcome.changes and self.state["status"] == "RESOLVED":
            assert self.state["resolved_at"] == self.now
        self._record_response()

    @rule(actor=actors)
    def comment(self, actor: Actor) -> None:
        self.now += timedelta(minutes=1)
        self.state = apply(self.state, respond_by_comment(self.state, actor, self.now))
        self._record_response()

    @precondition(lambda self: self.state["status"] == "RESOLVED")
    @rule()
    def reopen(self) -> None:
        self.now += timedelta(minutes=1)
        self.state = apply(
            self.state, transition(self.state, {"status": "OPEN"}, KEY, MEMBERS, self.now)
        )
        assert self.state["resolution_comment"] is None
        self._record_response()

    def _record_response(self) -> None:
        if self.first_response is None:
            self.first_response = self.state["responded_at"]

    @invariant()
    def resolution_set_iff_resolved(self) -> None:
        resolved = self.state["status"] == "RESOLVED"
        assert (self.state["resolution"] is not None) == resolved
        assert (self.state["resolved_at"] is not None) == resolved

    @invariant()
    def assignee_name_follows_assignee(self) -> None:
        assignee, name = self.state["assignee"], self.state["assignee_name"]
        assert (assignee is None) == (name is None)
        if assignee == "SOAR":
            assert name == "SOAR"
        elif assignee is not None:
            assert MEMBERS[assignee] == name

    @invariant()
    def responded_at_never_moves(self) -> None:
        assert self.state["responded_at"] == self.first_response

    @invariant()
    def status_is_known(self) -> None:
        assert self.state["status"] in STATUSES


IncidentMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)
TestIncidentMachine = IncidentMachine.TestCase


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(STATUSES), requests, actors)
def test_a_refused_request_is_refused_for_a_stated_reason(
    status: str, request: dict[str, Any], actor: Actor
) -> None:
    """Whatever is asked, the answer is an outcome or a typed domain error, never a crash."""
    try:
        transition(state_in(status), request, actor, MEMBERS, LATER)
    except (InvalidInput, InvalidTransition) as exc:
        assert exc.code and exc.detail


class TestResolutionReasons:
    """A reason goes with a resolution, in ContraForce's taxonomy or Sentinel's reason list."""

    def test_a_canonical_pair_is_kept_in_canonical_spelling(self) -> None:
        request = {
            "status": "RESOLVED",
            "resolution": "FALSE_POSITIVE",
            "resolution_reason": "notenoughdatatovalidate",
        }
        outcome = transition(make_state(), request, ANA, MEMBERS, LATER)
        assert outcome.changes["resolution_reason"] == (None, "NotEnoughDataToValidate")

    def test_a_sentinel_reason_goes_with_any_classification(self) -> None:
        request = {
            "status": "RESOLVED",
            "resolution": "UNDETERMINED",
            "resolution_reason": "InaccurateData",
        }
        outcome = transition(make_state(), request, ANA, MEMBERS, LATER)
        assert outcome.changes["resolution_reason"] == (None, "InaccurateData")

    def test_a_reason_from_another_classification_is_refused(self) -> None:
        request = {
            "status": "RESOLVED",
            "resolution": "UNDETERMINED",
            "resolution_reason": "Phishing",
        }
        with pytest.raises(InvalidInput) as caught:
            transition(make_state(), request, ANA, MEMBERS, LATER)
        assert caught.value.errors[0]["field"] == "resolutionReason"
        assert "Unknown" in caught.value.detail  # names what is allowed

    def test_a_reason_without_a_resolution_is_refused(self) -> None:
        with pytest.raises(InvalidTransition):
            transition(make_state(), {"resolution_reason": "Other"}, ANA, MEMBERS, LATER)

    def test_reopening_clears_the_reason_and_a_new_verdict_drops_the_old_reason(self) -> None:
        closed = resolved_state(resolution_reason="Malware")
        reopened = transition(closed, {"status": "OPEN"}, ANA, MEMBERS, LATER)
        assert reopened.changes["resolution_reason"] == ("Malware", None)
        changed = transition(closed, {"resolution": "BENIGN_POSITIVE"}, ANA, MEMBERS, LATER)
        assert changed.changes["resolution_reason"] == ("Malware", None)
