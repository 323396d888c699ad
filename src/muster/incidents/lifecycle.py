"""The incident lifecycle as one transition table and one pure function.

`transition(state, requested, actor, members, now)` takes the incident's current field values
(snake_case, plain data), the fields a caller asked to change, who is asking, the tenant's
members (email -> display name) and the time. It returns every field that changes with its
before/after value and the events those changes raise, or raises a typed error. It never looks
anything up and never reads a clock; the service applies its result and writes the timeline.

Rules:
- Status moves only along `TRANSITIONS`. Entering RESOLVED needs a resolution (in the same
  request or already set) and stamps `resolved_at`; leaving RESOLVED (a reopen) clears
  `resolution`, `resolution_reason`, `resolution_comment` and `resolved_at`.
- `resolution` may only be set on a RESOLVED incident (or one being resolved);
  `resolution_reason` only beside a resolution, and only a reason `verdicts` allows with it.
  Changing the resolution without naming a reason clears the old reason.
- `assignee` is a member's e-mail, the literal `SOAR`, or None; `assignee_name` follows it.
- `responded_at` is stamped once, at the first human response: the first move out of OPEN,
  the first assignment to a person, or the first comment by a person (`respond_by_comment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from muster.errors import InvalidInput, InvalidTransition
from muster.incidents.verdicts import allowed_reasons, canonical_reason
from muster.models.enums import SOAR_ASSIGNEE, IncidentStatus

OPEN, INVESTIGATING, RESOLVED = (
    IncidentStatus.OPEN,
    IncidentStatus.UNDER_INVESTIGATION,
    IncidentStatus.RESOLVED,
)

TRANSITIONS: Mapping[str, frozenset[str]] = {
    OPEN: frozenset({INVESTIGATING, RESOLVED}),
    INVESTIGATING: frozenset({OPEN, RESOLVED}),
    RESOLVED: frozenset({OPEN, INVESTIGATING}),
}

EDITABLE = frozenset(
    {
        "description",
        "details",
        "severity",
        "assignee",
        "status",
        "resolution",
        "resolution_reason",
        "resolution_comment",
        "mitre_tactic",
        "mitre_technique",
        "grouping_allowed",
        "exclude_from_sla",
        "tags",
    }
)

# Set only by `transition` itself, never by a request.
DERIVED = frozenset({"assignee_name", "responded_at", "resolved_at"})
STATE_FIELDS = EDITABLE | DERIVED

ActorKind = Literal["user", "apikey", "soar", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change. Users and API keys act for people; SOAR and system do not."""

    kind: ActorKind
    id: str
    name: str

    @property
    def is_human(self) -> bool:
        """True when the action counts as a human response."""
        return self.kind in ("user", "apikey")


SYSTEM = Actor("system", "system", "muster")
SOAR = Actor("soar", SOAR_ASSIGNEE, SOAR_ASSIGNEE)


@dataclass(slots=True)
class Outcome:
    """What a transition changes (`field -> (before, after)`) and the events it raises."""

    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        """The most significant event, used as the timeline entry's action."""
        for event in (
            "incident.resolved",
            "incident.reopened",
            "incident.status_changed",
            "incident.assigned",
        ):
            if event in self.events:
                return event
        return "incident.updated"


def transition(
    state: Mapping[str, Any],
    requested: Mapping[str, Any],
    actor: Actor,
    members: Mapping[str, str],
    now: datetime,
) -> Outcome:
    """Apply `requested` to `state` under the lifecycle rules; return the changes and events."""
    unknown = set(requested) - EDITABLE
    if unknown:
        raise InvalidInput.field(sorted(unknown)[0], "is not editable")
    new = dict(state)
    new.update(requested)
    _check_status(state, new, requested)
    _check_resolution(state, new, requested)
    _derive_assignee(state, new, requested, members)
    _stamp_times(state, new, actor, now)
    outcome = Outcome()
    for name in sorted(new):
        if new[name] != state.get(name):
            outcome.changes[name] = (state.get(name), new[name])
    outcome.events = _events(outcome.changes)
    return outcome


def respond_by_comment(state: Mapping[str, Any], actor: Actor, now: datetime) -> Outcome:
    """A comment by a person is a response: stamp `responded_at` if it is still empty."""
    outcome = Outcome()
    if actor.is_human and state.get("responded_at") is None:
        outcome.changes["responded_at"] = (None, now)
        outcome.events.append("incident.responded")
    return outcome


def _check_status(
    state: Mapping[str, Any], new: dict[str, Any], requested: Mapping[str, Any]
) -> None:
    before, after = state["status"], new["status"]
    if after == before:
        return
    if after not in TRANSITIONS:
        raise InvalidInput.field("status", f"unknown status {after!r}")
    if after not in TRANSITIONS[before]:
        raise InvalidTransition(f"cannot move an incident from {before} to {after}")
    if before == RESOLVED:  # reopen: the verdict no longer holds
        for name in ("resolution", "resolution_reason", "resolution_comment"):
            if name not in requested:
                new[name] = None
        if requested.get("resolution") is not None:
            raise InvalidTransition("a reopened incident cannot keep a resolution")


def _check_resolution(
    state: Mapping[str, Any], new: dict[str, Any], requested: Mapping[str, Any]
) -> None:
    if new["status"] == RESOLVED:
        if not new.get("resolution"):
            raise InvalidTransition(
                "resolving an incident needs a resolution",
                code="incident.resolution_required",
                errors=[{"field": "resolution", "message": "required when status is RESOLVED"}],
            )
    elif requested.get("resolution") is not None:
        raise InvalidTransition(
            "a resolution can only be set when the incident is RESOLVED",
            code="incident.resolution_without_resolved",
            errors=[{"field": "resolution", "message": "only allowed with status RESOLVED"}],
        )
    _check_reason(state, new, requested)


def _check_reason(
    state: Mapping[str, Any], new: dict[str, Any], requested: Mapping[str, Any]
) -> None:
    if "resolution_reason" not in requested:
        if new.get("resolution") != state.get("resolution"):
            new["resolution_reason"] = None  # a new verdict does not inherit the old reason
        return
    reason = requested["resolution_reason"]
    if reason is None:
        return
    resolution = new.get("resolution")
    if not resolution:
        raise InvalidTransition(
            "a resolution reason needs a resolution",
            code="incident.reason_without_resolution",
            errors=[{"field": "resolutionReason", "message": "only allowed with a resolution"}],
        )
    canonical = canonical_reason(resolution, str(reason))
    if canonical is None:
        allowed = ", ".join(allowed_reasons(resolution)) or "none"
        raise InvalidInput.field(
            "resolutionReason",
            f"{reason!r} is not a reason for {resolution} (allowed: {allowed})",
            code="incident.reason_not_allowed",
        )
    new["resolution_reason"] = canonical


def _derive_assignee(
    state: Mapping[str, Any],
    new: dict[str, Any],
    requested: Mapping[str, Any],
    members: Mapping[str, str],
) -> None:
    if "assignee" not in requested:
        return
    assignee = requested["assignee"]
    if assignee is None:
        new["assignee_name"] = None
    elif assignee == SOAR_ASSIGNEE:
        new["assignee_name"] = SOAR_ASSIGNEE
    else:
        email = str(assignee).strip().lower()
        if email not in members:
            raise InvalidInput.field(
                "assignee",
                f"{assignee!r} is not a member of this tenant (or 'SOAR')",
                code="incident.assignee_not_member",
            )
        new["assignee"] = email
        new["assignee_name"] = members[email]


def _stamp_times(
    state: Mapping[str, Any], new: dict[str, Any], actor: Actor, now: datetime
) -> None:
    if new["status"] == RESOLVED and state["status"] != RESOLVED:
        new["resolved_at"] = now
    elif new["status"] != RESOLVED:
        new["resolved_at"] = None
    if state.get("responded_at") is not None or not actor.is_human:
        return
    moved = new["status"] != state["status"]  # out of OPEN, or any later move by a person
    to_person = new.get("assignee") not in (None, SOAR_ASSIGNEE) and new.get(
        "assignee"
    ) != state.get("assignee")
    if moved or to_person:
        new["responded_at"] = now


def _events(changes: Mapping[str, tuple[Any, Any]]) -> list[str]:
    events: list[str] = []
    if "status" in changes:
        before, after = changes["status"]
        events.append("incident.status_changed")
        if after == RESOLVED:
            events.append("incident.resolved")
        elif before == RESOLVED:
            events.append("incident.reopened")
    if "assignee" in changes:
        events.append("incident.assigned")
    if "responded_at" in changes:
        events.append("incident.responded")
    if set(changes) - {"status", "assignee", "assignee_name", "responded_at", "resolved_at"}:
        events.append("incident.updated")
    return events
