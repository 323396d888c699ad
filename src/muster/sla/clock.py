"""The SLA clock: due times, states and which events fall due, as pure functions of plain data
and an explicit `now`.

Definitions (the metrics SQL uses the same ones):

- An incident has two targets. The **response** target is achieved at `responded_at`, or, when
  nobody responded, at `resolved_at` (an incident closed by automation awaits no response);
  the **resolution** target is achieved at `resolved_at`. A reopen clears `resolved_at`, so
  the target is open again.
- A target is **met** when achieved at or before its due time, **breached** when achieved after
  it or not achieved and `now > due`, **at risk** when not achieved, not breached and
  `now >= created_at + atRiskFraction * (due - created_at)`, else **ok**. A target without a
  due time (incidents older than the SLA engine) is met once achieved and never breached.
- Overall: **excluded** if `exclude_from_sla`; else **breached** if any target is; else
  **at_risk** if any is; else **met** if both are; else **ok**.

Events: `sla.at_risk` and `sla.breached` per target, each raised at most once per incident
(bit flags in `incidents.sla_raised`, kept through reopens and re-timing). An at-risk event is
not raised for a target already achieved or breached: raising a breach marks the target's
at-risk event as done too. Excluded incidents raise nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from muster.sla.policy import Policy

__all__ = [
    "EARLIEST_BREACH",
    "DueTimes",
    "SlaEvent",
    "SlaFacts",
    "SlaState",
    "Target",
    "after_scan",
    "due_events",
    "due_times",
    "flag",
    "next_check_at",
    "overall_state",
    "raise_events",
    "risk_at",
    "target_state",
]

# A breach is `now > due`: the first instant the database can tell apart from `due`.
EARLIEST_BREACH = timedelta(microseconds=1)


class SlaState(StrEnum):
    """The SLA state of a target or of a whole incident."""

    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    EXCLUDED = "excluded"


class Target(StrEnum):
    """What an SLA measures."""

    RESPONSE = "response"
    RESOLUTION = "resolution"


# bit flags in `incidents.sla_raised`
_FLAGS = {
    (Target.RESPONSE, SlaState.AT_RISK): 1,
    (Target.RESPONSE, SlaState.BREACHED): 2,
    (Target.RESOLUTION, SlaState.AT_RISK): 4,
    (Target.RESOLUTION, SlaState.BREACHED): 8,
}


def flag(target: Target, state: SlaState) -> int:
    """The bit of `incidents.sla_raised` recording that this event was raised."""
    return _FLAGS[(target, state)]


@dataclass(frozen=True, slots=True)
class DueTimes:
    """When each target falls due."""

    response_due_at: datetime
    resolution_due_at: datetime


@dataclass(frozen=True, slots=True)
class SlaFacts:
    """What the SLA of one incident depends on (columns of `incidents`)."""

    created_at: datetime
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    exclude_from_sla: bool = False
    raised: int = 0

    def due(self, target: Target) -> datetime | None:
        """The target's due time."""
        return self.response_due_at if target is Target.RESPONSE else self.resolution_due_at

    def achieved_at(self, target: Target) -> datetime | None:
        """When the target was achieved (None: not yet)."""
        if target is Target.RESPONSE:
            return self.responded_at or self.resolved_at
        return self.resolved_at


@dataclass(frozen=True, slots=True)
class SlaEvent:
    """An event that fell due: `state` is AT_RISK or BREACHED."""

    target: Target
    state: SlaState
    due_at: datetime

    @property
    def action(self) -> str:
        """The timeline action (and published event type): `sla.at_risk` / `sla.breached`."""
        return f"sla.{self.state.value}"


def due_times(created_at: datetime, severity: int, policy: Policy) -> DueTimes:
    """Both due times of an incident of `severity` opened at `created_at`."""
    targets = policy.for_severity(severity)
    return DueTimes(created_at + targets.response, created_at + targets.resolution)


def risk_at(created_at: datetime, due: datetime, fraction: float) -> datetime:
    """When a target due at `due` becomes at risk."""
    return created_at + (due - created_at) * fraction


def target_state(facts: SlaFacts, target: Target, fraction: float, now: datetime) -> SlaState:
    """The state of one target at `now` (never EXCLUDED: that is the incident's)."""
    due, done = facts.due(target), facts.achieved_at(target)
    if done is not None:
        return SlaState.MET if due is None or done <= due else SlaState.BREACHED
    if due is None:
        return SlaState.OK
    if now > due:
        return SlaState.BREACHED
    if now >= risk_at(facts.created_at, due, fraction):
        return SlaState.AT_RISK
    return SlaState.OK


def overall_state(facts: SlaFacts, fraction: float, now: datetime) -> SlaState:
    """The incident's SLA state at `now`."""
    if facts.exclude_from_sla:
        return SlaState.EXCLUDED
    states = {target_state(facts, target, fraction, now) for target in Target}
    for state in (SlaState.BREACHED, SlaState.AT_RISK):
        if state in states:
            return state
    return SlaState.MET if states == {SlaState.MET} else SlaState.OK


def due_events(facts: SlaFacts, fraction: float, now: datetime) -> list[SlaEvent]:
    """The events to raise at `now`: fallen due and not raised before."""
    if facts.exclude_from_sla:
        return []
    events: list[SlaEvent] = []
    for target in Target:
        due = facts.due(target)
        if due is None or facts.achieved_at(target) is not None:
            continue
        if now > due:
            state = SlaState.BREACHED
        elif now >= risk_at(facts.created_at, due, fraction):
            state = SlaState.AT_RISK
        else:
            continue
        if not _settled(facts.raised, target, state):
            events.append(SlaEvent(target, state, due))
    return events


def _settled(raised: int, target: Target, state: SlaState) -> bool:
    """Whether the event was raised, or (an at-risk event) made moot by a raised breach."""
    if raised & flag(target, state):
        return True
    return state is SlaState.AT_RISK and bool(raised & flag(target, SlaState.BREACHED))


def raise_events(raised: int, events: list[SlaEvent]) -> int:
    """The flags after raising `events`; a breach also settles its target's at-risk event."""
    for event in events:
        raised |= flag(event.target, event.state)
        if event.state is SlaState.BREACHED:
            raised |= flag(event.target, SlaState.AT_RISK)
    return raised


def next_check_at(facts: SlaFacts, fraction: float) -> datetime | None:
    """The earliest time an event not yet raised could fall due; None when none can (targets
    achieved, incident excluded, or everything raised)."""
    if facts.exclude_from_sla:
        return None
    times: list[datetime] = []
    for target in Target:
        due = facts.due(target)
        if due is None or facts.achieved_at(target) is not None:
            continue
        if not _settled(facts.raised, target, SlaState.AT_RISK):
            times.append(risk_at(facts.created_at, due, fraction))
        if not _settled(facts.raised, target, SlaState.BREACHED):
            times.append(due + EARLIEST_BREACH)
    return min(times, default=None)


def after_scan(facts: SlaFacts, fraction: float, now: datetime) -> tuple[list[SlaEvent], SlaFacts]:
    """One scheduler step: the events to raise at `now` and the facts with their flags set."""
    events = due_events(facts, fraction, now)
    return events, replace(facts, raised=raise_events(facts.raised, events))
