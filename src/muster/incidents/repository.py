"""Incident data access that ingest shares with the services: numbering, hashes, candidates.

Ingest calls these for every batch, so they are prebuilt Core statements on the session's
connection that bind `tenant_id` explicitly (they bypass the ORM tenancy hooks, as
`muster.db.tenancy` allows repositories to).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    case,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from muster.db.bulk import insert_rows
from muster.db.tenancy import tenant_id_of
from muster.db.types import UTCDateTime
from muster.grouping.decision import Candidate, candidate_of
from muster.ids import new_incident_hash
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus

INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
TENANTS: Table = Tenant.__table__  # type: ignore[assignment]
_c = INCIDENTS.c

_NEXT_NUMBERS = (
    update(TENANTS)
    .where(TENANTS.c.id == bindparam("tenant_id"))
    .values(incident_seq=TENANTS.c.incident_seq + bindparam("count"))
    .returning(TENANTS.c.incident_seq)
)
_LOCK_TENANT = (
    select(TENANTS.c.id)
    .where(TENANTS.c.id == bindparam("tenant_id"))
    .with_for_update(key_share=True)
)
_TAKEN_HASHES = select(_c.incident_hash).where(
    _c.incident_hash.in_(bindparam("hashes", expanding=True))
)
# what a grouping candidate is read with (`grouping.decision.candidate_of`: the first eight)
POOL_COLUMNS = (
    _c.id,
    _c.number,
    _c.grouping_key,
    _c.status,
    _c.grouping_allowed,
    _c.alert_count,
    _c.first_alert_at,
    _c.created_at,
    _c.severity,
    _c.incident_hash,
    _c.last_alert_at,
)
# Thousands of keys per batch: one array parameter on PostgreSQL, an expanded IN on SQLite.
_UNDER_KEYS = {
    "postgresql": select(*POOL_COLUMNS).where(
        _c.tenant_id == bindparam("tenant_id"),
        _c.grouping_key == any_(bindparam("keys", type_=postgresql.ARRAY(String))),
        _c.first_alert_at >= bindparam("since"),
    ),
    "sqlite": select(*POOL_COLUMNS).where(
        _c.tenant_id == bindparam("tenant_id"),
        _c.grouping_key.in_(bindparam("keys", expanding=True)),
        _c.first_alert_at >= bindparam("since"),
    ),
}
# Hundreds of touched incidents per batch. SQLite runs one cheap UPDATE per incident; on
# PostgreSQL one UPDATE joins them all as arrays (a statement per row costs a round of work).
_ABSORB_ROW = (
    update(INCIDENTS)
    .where(_c.id == bindparam("b_id"), _c.tenant_id == bindparam("b_tenant"))
    .values(
        alert_count=_c.alert_count + bindparam("b_count"),
        severity=case((_c.severity < bindparam("b_sev"), bindparam("b_sev")), else_=_c.severity),
        last_alert_at=case(
            (_c.last_alert_at < bindparam("b_last"), bindparam("b_last")),
            else_=_c.last_alert_at,
        ),
        updated_at=bindparam("b_now"),
        version=_c.version + 1,
    )
)
_absorbed = (
    func.unnest(
        bindparam("ids", type_=postgresql.ARRAY(Uuid())),
        bindparam("counts", type_=postgresql.ARRAY(Integer)),
        bindparam("severities", type_=postgresql.ARRAY(Integer)),
        bindparam("lasts", type_=postgresql.ARRAY(UTCDateTime())),
    )
    .table_valued(
        column("id", Uuid()),
        column("count", Integer),
        column("severity", Integer),
        column("last", UTCDateTime()),
    )
    .render_derived(name="absorbed")
)
_ABSORB_ARRAYS = (
    update(INCIDENTS)
    .where(_c.id == _absorbed.c.id, _c.tenant_id == bindparam("b_tenant"))
    .values(
        alert_count=_c.alert_count + _absorbed.c.count,
        severity=func.greatest(_c.severity, _absorbed.c.severity),
        last_alert_at=func.greatest(_c.last_alert_at, _absorbed.c.last),
        updated_at=bindparam("b_now"),
        version=_c.version + 1,
    )
)


BLOCKED_NAMED = 5


def _newest(cand: Candidate) -> tuple[float, int]:
    """Sort key: newest first."""
    return (-cand.created_at.timestamp(), -cand.number)


class IncidentRepository:
    """Queries about incidents of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tenant_id = tenant_id_of(session)

    def allocate_numbers(self, tenant_id: uuid.UUID, count: int) -> range:
        """Reserve `count` consecutive per-tenant numbers (atomic in the database)."""
        last = (
            self.session.connection()
            .execute(_NEXT_NUMBERS, {"tenant_id": tenant_id, "count": count})
            .scalar_one()
        )
        return range(last - count + 1, last + 1)

    def lock_for_ingest(self, tenant_id: uuid.UUID) -> None:
        """Serialise the tenant's ingests until commit.

        Without it, two concurrent ingests on PostgreSQL each miss the other's new incident and
        open one for the same grouping key, or both insert the same repeated alert. `FOR NO KEY
        UPDATE` does not block inserts that reference the tenant; SQLite needs no lock (a write
        transaction already holds the database's write lock).
        """
        connection = self.session.connection()
        if connection.dialect.name != "sqlite":
            connection.execute(_LOCK_TENANT, {"tenant_id": tenant_id})

    def fresh_hashes(self, count: int) -> list[str]:
        """Return `count` incident hashes not used by any incident of any tenant."""
        hashes: list[str] = []
        while len(hashes) < count:
            wanted = {new_incident_hash() for _ in range(count - len(hashes))} - set(hashes)
            taken = set(self.session.connection().scalars(_TAKEN_HASHES, {"hashes": list(wanted)}))
            hashes.extend(wanted - taken)
        return hashes

    def grouping_pool(
        self, keys: Collection[str], since: datetime, fullest: int
    ) -> tuple[dict[str, list[Candidate]], dict[uuid.UUID, tuple[int, str]]]:
        """For each of `keys`, the incidents whose first alert is after `since` that could take
        an alert: the open, groupable ones with fewer than `fullest` alerts or, when there are
        none, all of them (what stood in the way, so the reason can name it); and for each
        incident its (severity, incidentHash). One query."""
        if not keys:
            return {}, {}
        connection = self.session.connection()
        rows = connection.execute(
            _UNDER_KEYS[connection.dialect.name],
            {"tenant_id": self.tenant_id, "keys": list(keys), "since": since},
        )
        open_: dict[str, list[Candidate]] = defaultdict(list)
        blocked: dict[str, list[Candidate]] = defaultdict(list)
        extras = {}
        for row in rows:
            cand = candidate_of(row, row.last_alert_at)
            usable = (
                cand.status != IncidentStatus.RESOLVED.value
                and cand.grouping_allowed
                and cand.alert_count < fullest
            )
            (open_ if usable else blocked)[row.grouping_key].append(cand)
            extras[row.id] = (row.severity, row.incident_hash)
        # what blocked a key is only named in the reason: its newest few are enough
        pool = {
            key: open_.get(key) or sorted(blocked.get(key, ()), key=_newest)[:BLOCKED_NAMED]
            for key in keys
        }
        return pool, extras

    def insert(self, rows: list[dict[str, object]]) -> None:
        """Bulk insert new incidents (rows carry their tenant_id)."""
        if rows:
            insert_rows(self.session.connection(), INCIDENTS, rows)

    def absorb(
        self, touched: list[dict[str, Any]], severities: dict[uuid.UUID, int], now: datetime
    ) -> list[tuple[uuid.UUID, int, int]]:
        """Account grouped alerts on incidents; return (id, before, after) of severity raises."""
        if not touched:
            return []
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(
                _ABSORB_ARRAYS,
                {
                    "b_tenant": self.tenant_id,
                    "ids": [row["incident_id"] for row in touched],
                    "counts": [row["count"] for row in touched],
                    "severities": [row["severity"] for row in touched],
                    "lasts": [row["last_alert_at"] for row in touched],
                    "b_now": now,
                },
            )
        else:
            connection.execute(
                _ABSORB_ROW,
                [
                    {
                        "b_id": row["incident_id"],
                        "b_tenant": self.tenant_id,
                        "b_count": row["count"],
                        "b_sev": row["severity"],
                        "b_last": row["last_alert_at"],
                        "b_now": now,
                    }
                    for row in touched
                ],
            )
        return [
            (row["incident_id"], severities[row["incident_id"]], row["severity"])
            for row in touched
            if row["severity"] > severities.get(row["incident_id"], 99)
        ]
