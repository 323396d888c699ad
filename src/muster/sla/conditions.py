"""The SLA states as SQL conditions over `incidents`, mirroring `muster.sla.clock` exactly.

Used by the incident list's `slaState=` filter. `now` and the tenant's at-risk fraction are
bound parameters. The conditions on `at_risk`, `ok` and `met` also name the statuses they
imply (an unachieved target means an unresolved incident; `met` means a resolved one), so
`ix_incidents_tenant_status_created` narrows the scan; `breached` and `excluded` are plain
filters over the tenant's incidents in the list's order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, bindparam, func, literal, not_, or_

from muster.db.types import UTCDateTime
from muster.models import Incident
from muster.models.enums import IncidentStatus
from muster.sla.clock import SlaState

__all__ = ["state_condition"]

_I = Incident
Stamp = SQLColumnExpression[datetime | None]
_UNRESOLVED = (IncidentStatus.OPEN.value, IncidentStatus.UNDER_INVESTIGATION.value)


def _response_done() -> Stamp:
    return func.coalesce(_I.responded_at, _I.resolved_at)


def _breached(
    done: Stamp,
    due: Stamp,
    now: Stamp,
) -> ColumnElement[bool]:
    """Achieved after its due time, or not achieved and past it (never NULL)."""
    late = or_(and_(done.is_not(None), done > due), and_(done.is_(None), due < now))
    return and_(due.is_not(None), late)


def _met(done: Stamp, due: Stamp) -> ColumnElement[bool]:
    """Achieved at or before its due time (or achieved, without one)."""
    return and_(done.is_not(None), or_(due.is_(None), done <= due))


def _at_risk(
    done: Stamp,
    due: Stamp,
    now: Stamp,
    fraction: float,
    dialect: str,
) -> ColumnElement[bool]:
    """Not achieved, not breached, and at least `fraction` of the target has elapsed (never
    NULL)."""
    if dialect == "postgresql":
        risk = _I.created_at + (due - _I.created_at) * literal(fraction)
        reached = risk <= now
    else:  # SQLite keeps UTC timestamps as text that julianday() reads
        created = func.julianday(_I.created_at)
        risk_day = created + (func.julianday(due) - created) * literal(fraction)
        reached = risk_day <= func.julianday(now)
    return and_(due.is_not(None), done.is_(None), due >= now, reached)


def state_condition(
    state: SlaState, now: datetime, fraction: float, dialect: str
) -> ColumnElement[bool]:
    """Incidents whose overall SLA state at `now` is `state`."""
    at = bindparam("sla_now", now, type_=UTCDateTime())
    if state is SlaState.EXCLUDED:
        return _I.exclude_from_sla.is_(True)
    response, resolution = _response_done(), _I.resolved_at
    breached = or_(
        _breached(response, _I.response_due_at, at),
        _breached(resolution, _I.resolution_due_at, at),
    )
    if state is SlaState.BREACHED:
        return and_(_I.exclude_from_sla.is_(False), breached)
    met = and_(_met(response, _I.response_due_at), _met(resolution, _I.resolution_due_at))
    if state is SlaState.MET:
        return and_(_I.status == IncidentStatus.RESOLVED.value, _I.exclude_from_sla.is_(False), met)
    at_risk = or_(
        _at_risk(response, _I.response_due_at, at, fraction, dialect),
        _at_risk(resolution, _I.resolution_due_at, at, fraction, dialect),
    )
    wanted = at_risk if state is SlaState.AT_RISK else not_(at_risk)
    return and_(_I.status.in_(_UNRESOLVED), _I.exclude_from_sla.is_(False), not_(breached), wanted)
