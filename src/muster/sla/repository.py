"""SLA data access: tenants' policies, the scheduler's queue and the incidents' SLA columns.

Core statements on the session's connection (they bypass the ORM tenancy hooks, as
`muster.db.tenancy` allows repositories to): each binds `tenant_id` explicitly, except the
scheduler's queue, which is read and written in a system unit of work on purpose (one scan
serves every tenant). None of them moves an incident's `version`: SLA bookkeeping is not a
change a client could conflict with, and the scan must not make an `If-Match` go stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, select, update

from muster.models import Incident, Tenant
from muster.sla.clock import SlaFacts
from muster.sla.policy import Policy, from_settings

INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
TENANTS: Table = Tenant.__table__  # type: ignore[assignment]
_c = INCIDENTS.c

FACT_COLUMNS = (
    _c.created_at,
    _c.response_due_at,
    _c.resolution_due_at,
    _c.responded_at,
    _c.resolved_at,
    _c.exclude_from_sla,
    _c.sla_raised,
)
_SETTINGS = select(TENANTS.c.id, TENANTS.c.settings).where(
    TENANTS.c.id.in_(bindparam("ids", expanding=True))
)
_DUE = (
    select(_c.id, _c.tenant_id, *FACT_COLUMNS)
    .where(_c.sla_next_at <= bindparam("now"))
    .order_by(_c.sla_next_at)
    .limit(bindparam("limit"))
)
_ANY_DUE = select(_c.id).where(_c.sla_next_at <= bindparam("now")).limit(1)
# by primary key alone: with `tenant_id = ?` beside it SQLite reads the tenant's whole range
# of a (tenant_id, ...) index instead (2x the ingest cost at 1,000,000 incidents); the
# tenant is checked on the rows instead (`facts_of`)
_OF_IDS = select(_c.id, _c.tenant_id, _c.severity, *FACT_COLUMNS).where(
    _c.id.in_(bindparam("ids", expanding=True))
)
_SET_RAISED = (
    update(INCIDENTS)
    .where(_c.id == bindparam("b_id"))
    .values(sla_raised=bindparam("b_raised"), sla_next_at=bindparam("b_next"))
)
_SET_TIMES = (
    update(INCIDENTS)
    .where(_c.id == bindparam("b_id"), _c.tenant_id == bindparam("b_tenant"))
    .values(
        response_due_at=bindparam("b_response"),
        resolution_due_at=bindparam("b_resolution"),
        sla_next_at=bindparam("b_next"),
    )
)
_PULL_FORWARD = (
    update(INCIDENTS)
    .where(_c.tenant_id == bindparam("b_tenant"), _c.sla_next_at > bindparam("b_now"))
    .values(sla_next_at=bindparam("b_now"))
)


def facts(row: Row[Any]) -> SlaFacts:
    """The SLA facts of a row selected with `FACT_COLUMNS`."""
    return SlaFacts(
        row.created_at,
        row.response_due_at,
        row.resolution_due_at,
        row.responded_at,
        row.resolved_at,
        bool(row.exclude_from_sla),
        row.sla_raised or 0,
    )


def policies(connection: Connection, tenant_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Policy]:
    """The effective policy of each tenant (one query)."""
    if not tenant_ids:
        return {}
    rows = connection.execute(_SETTINGS, {"ids": list(tenant_ids)})
    found = {row.id: from_settings(row.settings) for row in rows}
    return {tenant_id: found.get(tenant_id, from_settings(None)) for tenant_id in tenant_ids}


def policy(connection: Connection, tenant_id: uuid.UUID) -> Policy:
    """The tenant's effective policy."""
    return policies(connection, [tenant_id])[tenant_id]


def anything_due(connection: Connection, now: datetime) -> bool:
    """Whether any incident has an SLA event to raise at `now` (a read; no lock)."""
    return connection.execute(_ANY_DUE, {"now": now}).first() is not None


def claim_due(connection: Connection, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Up to `limit` incidents with an event due at `now`, earliest first, locked until commit;
    on PostgreSQL rows another scan holds are skipped (`FOR UPDATE SKIP LOCKED`). SQLite has
    one writer, so a write transaction alone keeps two scans apart."""
    stmt = _DUE
    if connection.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return connection.execute(stmt, {"now": now, "limit": limit}).all()


def set_raised(connection: Connection, updates: Sequence[Mapping[str, Any]]) -> None:
    """Write flags and next check time: rows of `{"b_id", "b_raised", "b_next"}`."""
    if updates:
        connection.execute(_SET_RAISED, list(updates))


def facts_of(
    connection: Connection, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> Sequence[Row[Any]]:
    """Severity and SLA facts of some of the tenant's incidents."""
    if not ids:
        return []
    rows = connection.execute(_OF_IDS, {"ids": list(ids)}).all()
    return [row for row in rows if row.tenant_id == tenant_id]


def set_times(
    connection: Connection, tenant_id: uuid.UUID, updates: Sequence[Mapping[str, Any]]
) -> None:
    """Write due times and next check time: rows of `{"b_id", "b_response", "b_resolution",
    "b_next"}`."""
    if updates:
        connection.execute(_SET_TIMES, [{**row, "b_tenant": tenant_id} for row in updates])


def pull_forward(connection: Connection, tenant_id: uuid.UUID, now: datetime) -> None:
    """Make the scheduler look at every incident of the tenant with a pending event now."""
    connection.execute(_PULL_FORWARD, {"b_tenant": tenant_id, "b_now": now})
