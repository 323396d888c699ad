"""Alert data access: bulk writes for ingest, keyed reads for the API."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from muster.db.tenancy import tenant_id_of
from muster.models import Alert


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """What ingest needs to know about an alert that is already stored."""

    id: uuid.UUID
    incident_id: uuid.UUID | None
    grouping_reason: dict[str, Any] | None


class AlertRepository:
    """Alerts of the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find_by_dedup(self, keys: Collection[str]) -> dict[str, StoredAlert]:
        """dedup key -> stored alert, for the keys already present."""
        if not keys:
            return {}
        rows = self.session.execute(
            select(Alert.dedup_key, Alert.id, Alert.incident_id, Alert.grouping_reason).where(
                Alert.dedup_key.in_(keys)
            )
        )
        return {
            row.dedup_key: StoredAlert(row.id, row.incident_id, row.grouping_reason) for row in rows
        }

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert new alerts of the session's tenant."""
        if not rows:
            return
        tenant_id = tenant_id_of(self.session)
        for row in rows:
            row["tenant_id"] = tenant_id
        self.session.execute(insert(Alert), rows)

    def bump_occurrences(self, repeats: Mapping[uuid.UUID, int], now: datetime) -> None:
        """Count repeats of stored alerts and move their `lastSeenAt`."""
        if not repeats:
            return
        table = Alert.__table__
        assert isinstance(table, Table)
        self.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.tenant_id == bindparam("b_tenant"))
            .values(
                occurrences=table.c.occurrences + bindparam("b_n"),
                last_seen_at=bindparam("b_now"),
                updated_at=bindparam("b_now"),
            ),
            [
                {"b_id": alert_id, "b_tenant": tenant_id_of(self.session), "b_n": n, "b_now": now}
                for alert_id, n in repeats.items()
            ],
        )
