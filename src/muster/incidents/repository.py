"""Incident data access that services share: numbering, hashes, grouping candidates."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from muster.db.tenancy import tenant_id_of
from muster.grouping.decision import Candidate
from muster.ids import new_incident_hash
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus


class IncidentRepository:
    """Queries about incidents of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def allocate_numbers(self, tenant_id: uuid.UUID, count: int) -> range:
        """Reserve `count` consecutive per-tenant numbers (atomic in the database)."""
        last = self.session.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(incident_seq=Tenant.incident_seq + count)
            .returning(Tenant.incident_seq)
        ).scalar_one()
        return range(last - count + 1, last + 1)

    def fresh_hashes(self, count: int) -> list[str]:
        """Return `count` incident hashes not yet used by any incident."""
        hashes: list[str] = []
        while len(hashes) < count:
            wanted = {new_incident_hash() for _ in range(count - len(hashes))} - set(hashes)
            taken = set(
                self.session.scalars(
                    select(Incident.incident_hash)
                    .where(Incident.incident_hash.in_(wanted))
                    .execution_options(skip_tenancy=True)
                )
            )
            hashes.extend(wanted - taken)
        return hashes

    def grouping_candidates(self, keys: Collection[str], since: datetime) -> list[Candidate]:
        """Open, groupable incidents under any of `keys` whose first alert is after `since`."""
        if not keys:
            return []
        rows = self.session.execute(
            select(
                Incident.id,
                Incident.number,
                Incident.grouping_key,
                Incident.status,
                Incident.grouping_allowed,
                Incident.alert_count,
                Incident.first_alert_at,
                Incident.created_at,
            ).where(
                Incident.grouping_key.in_(keys),
                Incident.status != IncidentStatus.RESOLVED,
                Incident.grouping_allowed.is_(True),
                Incident.first_alert_at >= since,
            )
        )
        return [Candidate(*row) for row in rows]

    def hashes_of(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """incident id -> incidentHash for the given ids."""
        wanted = set(ids)
        if not wanted:
            return {}
        rows = self.session.execute(
            select(Incident.id, Incident.incident_hash).where(Incident.id.in_(wanted))
        )
        return {row.id: row.incident_hash for row in rows}

    def insert(self, rows: list[dict[str, object]]) -> None:
        """Bulk insert new incidents (rows carry their tenant_id)."""
        if rows:
            self.session.execute(insert(Incident), rows)

    def absorb(
        self, touched: list[dict[str, Any]], now: datetime
    ) -> list[tuple[uuid.UUID, int, int]]:
        """Account grouped alerts on incidents; return (id, before, after) of severity raises."""
        if not touched:
            return []
        ids = [row["incident_id"] for row in touched]
        before = {
            row.id: row.severity
            for row in self.session.execute(
                select(Incident.id, Incident.severity).where(Incident.id.in_(ids))
            )
        }
        table = Incident.__table__
        assert isinstance(table, Table)
        self.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.tenant_id == bindparam("b_tenant"))
            .values(
                alert_count=table.c.alert_count + bindparam("b_count"),
                severity=case(
                    (table.c.severity < bindparam("b_sev"), bindparam("b_sev")),
                    else_=table.c.severity,
                ),
                last_alert_at=case(
                    (table.c.last_alert_at < bindparam("b_last"), bindparam("b_last")),
                    else_=table.c.last_alert_at,
                ),
                updated_at=bindparam("b_now"),
                version=table.c.version + 1,
            ),
            [
                {
                    "b_id": row["incident_id"],
                    "b_tenant": tenant_id_of(self.session),
                    "b_count": row["count"],
                    "b_sev": row["severity"],
                    "b_last": row["last_alert_at"],
                    "b_now": now,
                }
                for row in touched
            ],
        )
        return [
            (row["incident_id"], before[row["incident_id"]], row["severity"])
            for row in touched
            if row["incident_id"] in before and row["severity"] > before[row["incident_id"]]
        ]
