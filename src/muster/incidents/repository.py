"""Incident data access that ingest shares with the services: numbering, hashes, candidates.

Ingest calls these for every batch, so they are prebuilt Core statements on the session's
connection that bind `tenant_id` explicitly (they bypass the ORM tenancy hooks, as
`muster.db.tenancy` allows repositories to).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from muster.db.tenancy import tenant_id_of
from muster.grouping.decision import Candidate
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
_UNDER_KEYS = select(
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
).where(
    _c.tenant_id == bindparam("tenant_id"),
    _c.grouping_key.in_(bindparam("keys", expanding=True)),
    _c.first_alert_at >= bindparam("since"),
)
_CANDIDATES = _UNDER_KEYS.where(
    _c.status != IncidentStatus.RESOLVED.value,
    _c.grouping_allowed.is_(True),
    _c.alert_count < bindparam("fullest"),
)
_INSERT = insert(INCIDENTS)
_ABSORB = (
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

    def grouping_candidates(
        self, keys: Collection[str], since: datetime, fullest: int
    ) -> tuple[list[Candidate], dict[uuid.UUID, tuple[int, str]]]:
        """Open, groupable incidents under any of `keys` whose first alert is after `since` and
        with fewer than `fullest` alerts, and for each its (severity, incidentHash)."""
        if not keys:
            return [], {}
        rows = self.session.connection().execute(
            _CANDIDATES,
            {"tenant_id": self.tenant_id, "keys": list(keys), "since": since, "fullest": fullest},
        )
        candidates, extras = [], {}
        for row in rows:
            candidates.append(Candidate(*row[:8]))
            extras[row.id] = (row.severity, row.incident_hash)
        return candidates, extras

    def grouping_blockers(self, keys: Collection[str], since: datetime) -> list[Candidate]:
        """Every incident under `keys` whose first alert is after `since`, whatever its state:
        what stood in the way when none could take an alert, so the reason can name it."""
        if not keys:
            return []
        rows = self.session.connection().execute(
            _UNDER_KEYS, {"tenant_id": self.tenant_id, "keys": list(keys), "since": since}
        )
        return [Candidate(*row[:8]) for row in rows]

    def insert(self, rows: list[dict[str, object]]) -> None:
        """Bulk insert new incidents (rows carry their tenant_id)."""
        if rows:
            self.session.connection().execute(_INSERT, rows)

    def absorb(
        self, touched: list[dict[str, Any]], severities: dict[uuid.UUID, int], now: datetime
    ) -> list[tuple[uuid.UUID, int, int]]:
        """Account grouped alerts on incidents; return (id, before, after) of severity raises."""
        if not touched:
            return []
        self.session.connection().execute(
            _ABSORB,
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
