"""The incident queue as the page shows it: parsed filters and one row per incident (pure).

Nothing here touches the database, HTTP or a clock: `now` is passed in.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from muster.errors import InvalidInput
from muster.incidents.listing import SORTS, IncidentFilter
from muster.incidents.schemas import IncidentListItem
from muster.models.enums import IncidentStatus
from muster.sla.clock import SlaState
from muster.web.form_values import FormValues

PAGE_SIZE = 50
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
FILTER_FIELDS = ("status", "severity", "assignee", "tag", "source", "slaState", "filter", "sort")
SORT_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (f"{sign}{name}", f"{name} {'ascending' if sign == '+' else 'descending'}")
    for name in SORTS
    for sign in ("-", "+")
)
NO_COUNTDOWN = frozenset({SlaState.MET, SlaState.EXCLUDED})


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One incident in the queue."""

    id: uuid.UUID
    number: int
    incident_hash: str
    description: str
    severity: int
    severity_name: str
    status: str
    assignee: str | None
    assignee_name: str | None
    sla_state: str
    sla_due_at: datetime | None
    sla_text: str
    soar_status: str
    alert_count: int
    tags: tuple[str, ...]
    tenant_name: str | None
    created_at: datetime


def parse_params(raw: Sequence[tuple[str, str]]) -> FormValues:
    """Keep the known, non-blank filters (first value of each); check the closed vocabularies
    so a bad link is a 400 that names the field."""
    values: dict[str, str] = {}
    for name, value in raw:
        if name in FILTER_FIELDS and name not in values and value.strip():
            values[name] = value.strip()
    status = values.get("status")
    if status is not None and status not in IncidentStatus.__members__:
        raise InvalidInput.field("status", f"must be one of {', '.join(IncidentStatus)}")
    severity = values.get("severity")
    if severity is not None and severity not in {str(n) for n in SEVERITY_NAMES}:
        raise InvalidInput.field("severity", "must be 1, 2, 3 or 4")
    state = values.get("slaState")
    if state is not None and state not in {s.value for s in SlaState}:
        raise InvalidInput.field("slaState", f"must be one of {', '.join(SlaState)}")
    cursor = next((value for name, value in raw if name == "cursor" and value), None)
    return FormValues(values, cursor)


def to_filter(params: FormValues, my_email: str, now: datetime) -> IncidentFilter:
    """The listing filter the parameters ask for; assignee `mine` is the viewer."""
    assignee = params.get("assignee") or None
    if assignee is not None and assignee.lower() == "mine":
        assignee = my_email
    status = params.get("status")
    severity = params.get("severity")
    state = params.get("slaState")
    return IncidentFilter(
        status=(status,) if status else (),
        severity=(int(severity),) if severity else (),
        assignee=assignee,
        tag=params.get("tag") or None,
        source=params.get("source") or None,
        filter=params.get("filter") or None,
        sla_state=SlaState(state) if state else None,
        now=now,
    )


def duration_text(seconds: float) -> str:
    """A short human duration: `2d 03h`, `1h 05m`, `4m 09s`, `12s`."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def countdown_text(due: datetime | None, now: datetime) -> str:
    """`1h 05m left` before `due`, `overdue 3m 10s` after it, '' without a due time."""
    if due is None:
        return ""
    left = (due - now).total_seconds()
    return f"{duration_text(left)} left" if left > 0 else f"overdue {duration_text(left)}"


def next_due(item: IncidentListItem) -> datetime | None:
    """The SLA deadline that matters now: the response's until someone responds, then the
    resolution's until it is resolved; None after that."""
    if item.resolved_at is not None:
        return None
    if item.responded_at is None and item.sla_response_due_at is not None:
        return item.sla_response_due_at
    return item.sla_resolution_due_at


def queue_row(item: IncidentListItem, now: datetime, tenant_name: str | None = None) -> QueueRow:
    """The row of one incident (its SLA state must already be set on `item`)."""
    state = item.sla_state or SlaState.OK
    due = None if state in NO_COUNTDOWN else next_due(item)
    return QueueRow(
        id=item.id,
        number=item.number,
        incident_hash=item.incident_hash,
        description=item.description,
        severity=item.severity,
        severity_name=SEVERITY_NAMES.get(item.severity, str(item.severity)),
        status=item.status.value,
        assignee=item.assignee,
        assignee_name=item.assignee_name,
        sla_state=state.value,
        sla_due_at=due,
        sla_text=countdown_text(due, now),
        soar_status=item.soar_status.value,
        alert_count=item.alert_count,
        tags=tuple(item.tags),
        tenant_name=tenant_name,
        created_at=item.created_at,
    )
