"""Alert data access: bulk writes for ingest, keyed reads for the API.

Ingest is the hot path, so these are Core statements on the session's connection (one
transaction with the rest of the request). They bypass the ORM tenancy hooks and therefore
bind `tenant_id` explicitly, as `muster.db.tenancy` requires of repositories.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from muster.db.bulk import insert_rows
from muster.db.tenancy import tenant_id_of
from muster.models import Alert, Incident

ALERTS: Table = Alert.__table__  # type: ignore[assignment]
INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]

# Built once: the ingest path executes these for every batch.
_BY_DEDUP_FROM = ALERTS.outerjoin(INCIDENTS, INCIDENTS.c.id == ALERTS.c.incident_id)
_BY_DEDUP_COLUMNS = (
    ALERTS.c.dedup_key,
    ALERTS.c.id,
    ALERTS.c.incident_id,
    INCIDENTS.c.incident_hash,
    ALERTS.c.grouping_reason,
)
# A thousand keys per batch: one array parameter on PostgreSQL, an expanded IN on SQLite.
_BY_DEDUP = {
    "postgresql": select(*_BY_DEDUP_COLUMNS)
    .select_from(_BY_DEDUP_FROM)
    .where(
        ALERTS.c.tenant_id == bindparam("tenant_id"),
        ALERTS.c.dedup_key == any_(bindparam("keys", type_=postgresql.ARRAY(String))),
    ),
    "sqlite": select(*_BY_DEDUP_COLUMNS)
    .select_from(_BY_DEDUP_FROM)
    .where(
        ALERTS.c.tenant_id == bindparam("tenant_id"),
        ALERTS.c.dedup_key.in_(bindparam("keys", expanding=True)),
    ),
}
_BUMP = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("b_id"), ALERTS.c.tenant_id == bindparam("b_tenant"))
    .values(
        occurrences=ALERTS.c.occurrences + bindparam("b_n"),
        last_seen_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """What ingest needs to know about an alert that is already stored."""

    id: uuid.UUID
    incident_id: uuid.UUID | None
    incident_hash: str | None
    grouping_reason: dict[str, Any] | None


class AlertRepository:
    """Alerts of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tenant_id = tenant_id_of(session)

    def find_by_dedup(self, keys: Collection[str]) -> dict[str, StoredAlert]:
        """dedup key -> stored alert (with its incident's hash), for the keys already present."""
        if not keys:
            return {}
        connection = self.session.connection()
        rows = connection.execute(
            _BY_DEDUP[connection.dialect.name], {"tenant_id": self.tenant_id, "keys": list(keys)}
        )
        return {
            row.dedup_key: StoredAlert(
                row.id, row.incident_id, row.incident_hash, row.grouping_reason
            )
            for row in rows
        }

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert new alerts of the session's tenant."""
        if not rows:
            return
        for row in rows:
            row["tenant_id"] = self.tenant_id
        insert_rows(self.session.connection(), ALERTS, rows)

    def bump_occurrences(self, repeats: Mapping[uuid.UUID, int], now: datetime) -> None:
        """Count repeats of stored alerts and move their `lastSeenAt`."""
        if not repeats:
            return
        self.session.connection().execute(
            _BUMP,
            [
                {"b_id": alert_id, "b_tenant": self.tenant_id, "b_n": n, "b_now": now}
                for alert_id, n in repeats.items()
            ],
        )
