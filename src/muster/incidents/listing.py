"""Incident list queries: filters, sort and keyset paging, each served by an index."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, defer

from muster.errors import InvalidInput
from muster.ids import incident_number, normalise_incident_hash
from muster.models import Incident
from muster.models.enums import SOAR_ASSIGNEE
from muster.pagination import SortKey, apply_keyset, page
from muster.query import Subject, parse
from muster.query.sql import to_sql
from muster.sla.clock import SlaState
from muster.sla.conditions import state_condition
from muster.sla.service import get_policy

SORTS = {
    "createdAt": Incident.created_at,
    "updatedAt": Incident.updated_at,
    "severity": Incident.severity,
    "number": Incident.number,
}


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What an incident list may be narrowed by."""

    status: Sequence[str] = ()
    severity: Sequence[int] = ()
    assignee: str | None = None  # an e-mail, "SOAR", "unassigned"
    tag: str | None = None
    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    filter: str | None = None  # a filter expression (docs/query-language.md)
    sla_state: SlaState | None = None  # the SLA state at `now` (docs/sla.md)
    now: datetime | None = None  # the request's time, for `sla_state`
    tenant_ids: Sequence[uuid.UUID] = ()  # in a system session: only these tenants


def sort_key(sort: str) -> SortKey:
    """Parse a sort: `severity` and `-severity` sort descending (the queue's natural order:
    newest, highest, latest first), `+severity` ascending."""
    if sort.startswith(" "):  # an unencoded `+` in a query string arrives as a space
        sort = "+" + sort.lstrip()
    descending = not sort.startswith("+")
    name = sort.lstrip("+-")
    if name not in SORTS:
        raise InvalidInput.field(
            "sort",
            f"unknown sort {sort!r}; use one of {', '.join(SORTS)}"
            " (prefix - for descending, + for ascending)",
        )
    return SortKey(sort, SORTS[name], descending)


def list_incidents(
    session: Session, flt: IncidentFilter, sort: str, limit: int, cursor: str | None
) -> tuple[list[Incident], str | None]:
    """One page of the tenant's incidents and the cursor of the next."""
    key = sort_key(sort)
    stmt = select(Incident).options(defer(Incident.grouping_key))
    for condition in _conditions(session, flt):
        stmt = stmt.where(condition)
    stmt = apply_keyset(stmt, key, Incident.id, cursor, limit)
    return page(list(session.scalars(stmt)), key, limit)


def count_incidents(session: Session, flt: IncidentFilter) -> int:
    """How many of the session's incidents the filter selects."""
    stmt = select(func.count()).select_from(Incident)
    for condition in _conditions(session, flt):
        stmt = stmt.where(condition)
    return int(session.scalar(stmt) or 0)


def _conditions(session: Session, flt: IncidentFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if flt.tenant_ids:
        out.append(Incident.tenant_id.in_(flt.tenant_ids))
    if flt.status:
        out.append(Incident.status.in_(flt.status))
    if flt.severity:
        out.append(Incident.severity.in_(flt.severity))
    if flt.assignee:
        if flt.assignee.lower() in ("unassigned", "none"):
            out.append(Incident.assignee.is_(None))
        elif flt.assignee.upper() == SOAR_ASSIGNEE:
            out.append(Incident.assignee == SOAR_ASSIGNEE)
        else:
            out.append(Incident.assignee == flt.assignee.lower())
    if flt.source:
        out.append(Incident.source == flt.source)
    if flt.created_after:
        out.append(Incident.created_at >= flt.created_after)
    if flt.created_before:
        out.append(Incident.created_at < flt.created_before)
    if flt.tag:
        out.append(_has_tag(session, flt.tag))
    if flt.q:
        out.append(_matches_text(flt.q))
    if flt.filter is not None:
        dialect = session.get_bind().dialect.name
        out.append(to_sql(parse(flt.filter), Subject.INCIDENT, dialect))
    if flt.sla_state is not None:
        if flt.now is None:
            raise ValueError("an slaState filter needs the request's time")
        fraction = get_policy(session).at_risk_fraction
        dialect = session.get_bind().dialect.name
        out.append(state_condition(flt.sla_state, flt.now, fraction, dialect))
    return out


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(Incident.tags, JSONB).contains([tag])
    each = func.json_each(Incident.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def _matches_text(q: str) -> ColumnElement[bool]:
    text = q.strip()
    if not text:
        raise InvalidInput.field("q", "must not be blank")
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    options: list[ColumnElement[bool]] = [
        Incident.description.ilike(pattern, escape="\\"),
        Incident.details.ilike(pattern, escape="\\"),
        Incident.incident_hash == normalise_incident_hash(text),
    ]
    number = incident_number(text)
    if number is not None:
        options.append(Incident.number == number)
    return or_(*options)
