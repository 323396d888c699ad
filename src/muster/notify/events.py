"""Which published events a timeline entry raises: one pure mapping, shared by webhooks and mail.

Every change muster makes is a timeline row (`muster.incidents.timeline`); the outside world
sees a smaller, stable vocabulary. `published_types(action, changes)` maps one row to the
event types it raises, e.g. a PATCH that resolves and unassigns an incident raises
`incident.status_changed` and `incident.assigned`; a change of the description alone raises
`incident.updated`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EVENT_TYPES: tuple[str, ...] = (
    "incident.created",
    "incident.updated",
    "incident.status_changed",
    "incident.assigned",
    "alert.grouped",
    "soar.waiting_input",
    "soar.timed_out",
    "soar.failed",
    "sla.at_risk",
    "sla.breached",
)

# timeline actions that raise exactly one published type, whatever their changes
_DIRECT: Mapping[str, str] = {
    "incident.created": "incident.created",
    "alert.grouped": "alert.grouped",
    "soar.question_asked": "soar.waiting_input",
    "soar.question_timed_out": "soar.timed_out",
    "soar.failed": "soar.failed",
    "sla.at_risk": "sla.at_risk",
    "sla.breached": "sla.breached",
    "incident.severity_raised": "incident.updated",
    "incident.merged": "incident.updated",
    "alert.moved_in": "incident.updated",
    "alert.moved_out": "incident.updated",
}
# lifecycle changes (`muster.incidents.lifecycle`), by the changed field's API name
_LIFECYCLE = frozenset(
    {
        "incident.updated",
        "incident.status_changed",
        "incident.resolved",
        "incident.reopened",
        "incident.assigned",
    }
)
_QUIET_FIELDS = frozenset({"status", "assignee", "assigneeName", "respondedAt", "resolvedAt"})


def published_types(action: str, changes: Mapping[str, Any]) -> list[str]:
    """The published event types one timeline entry raises (none for internal bookkeeping)."""
    direct = _DIRECT.get(action)
    if direct is not None:
        return [direct]
    if action not in _LIFECYCLE:
        return []
    types: list[str] = []
    if "status" in changes:
        types.append("incident.status_changed")
    if "assignee" in changes:
        types.append("incident.assigned")
    if set(changes) - _QUIET_FIELDS:
        types.append("incident.updated")
    return types


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """One timeline row (as written, `muster.incidents.timeline.event_row`) and what it raises."""

    row: Mapping[str, Any]
    types: tuple[str, ...]


def published(rows: Sequence[Mapping[str, Any]]) -> list[PublishedEvent]:
    """The rows that raise published events, with their types, in order."""
    events = []
    for row in rows:
        types = published_types(row["action"], row["changes"])
        if types:
            events.append(PublishedEvent(row, tuple(types)))
    return events
