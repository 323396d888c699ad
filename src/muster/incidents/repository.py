"""Incident data access that services share: numbering, hashes, grouping candidates.

Ingest calls these per batch, so they are Core statements on the session's connection that
bind `tenant_id` explicitly (they bypass the ORM tenancy hooks, see `muster.db.tenancy`).
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


class IncidentRepository:
    """Queries about incidents of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tenant_id = tenant_id_of(session)

    def allocate_numbers(self, tenant_id: uuid.UUID, count: int) -> range:
        """Reserve `count` consecutive per-tenant numbers (atomic in the database)."""
        tenants = TENANTS.c
        last = (
            self.session.connection()
            .execute(
                update(TENANTS)
                .where(tenants.id == tenant_id)
                .values(incident_seq=tenants.incident_seq + count)
                .returning(tenants.incident_seq)
            )
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
        self.session.execute(
            select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True)
        )

    def fresh_hashes(self, count: int) -> list[str]:
        """Return `count` incident hashes not used by any incident of any tenant."""
        hashes: list[str] = []
        while len(hashes) < count:
            wanted = {new_incident_hash() for _ in range(count - len(hashes))} - set(hashes)
            taken = set(
                self.session.connection().scalars(
                    select(INCIDENTS.c.incident_hash).where(INCIDENTS.c.incident_hash.in_(wanted))
                )
            )
            hashes.extend(wanted - taken)
        return hashes

    def grouping_candidates(
        self, keys: Collection[str], since: datetime
    ) -> tuple[list[Candidate], dict[uuid.UUID, tuple[int, str]]]:
        """Open, groupable incidents under any of `keys` whose first alert is after `since`,
        and for each its (severity, incidentHash)."""
        if not keys:
            return [], {}
        c = INCIDENTS.c
        rows = self.session.connection().execute(
            select(
                c.id,
                c.number,
                c.grouping_key,
                c.status,
                c.grouping_allowed,
                c.alert_count,
                c.first_alert_at,
                c.created_at,
                c.severity,
                c.incident_hash,
            ).where(
                c.tenant_id == self.tenant_id,
                c.grouping_key.in_(list(keys)),
                c.status != IncidentStatus.RESOLVED.value,
                c.grouping_allowed.is_(True),
                c.first_alert_at >= since,
            )
        )
        candidates, extras = [], {}
        for row in rows:
            candidates.append(Candidate(*row[:8]))
            extras[row.id] = (row.severity, row.incident_hash)
        return candidates, extras

    def insert(self, rows: list[dict[str, object]]) -> None:
        """Bulk insert new incidents (rows carry their tenant_id)."""
        if rows:
            self.session.connection().execute(insert(INCIDENTS), rows)

    def absorb(
        self, touched: list[dict[str, Any]], severities: dict[uuid.UUID, int], now: datetime
    ) -> list[tuple[uuid.UUID, int, int]]:
        """Account grouped alerts on incidents; return (id, before, after) of severity raises."""
        if not touched:
            return []
        c = INCIDENTS.c
        self.session.connection().execute(
            update(INCIDENTS)
            .where(c.id == bindparam("b_id"), c.tenant_id == bindparam("b_tenant"))
            .values(
                alert_count=c.alert_count + bindparam("b_count"),
                severity=case(
                    (c.severity < bindparam("b_sev"), bindparam("b_sev")), else_=c.severity
                ),
                last_alert_at=case(
                    (c.last_alert_at < bindparam("b_last"), bindparam("b_last")),
                    else_=c.last_alert_at,
                ),
                updated_at=bindparam("b_now"),
                version=c.version + 1,
            ),
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
