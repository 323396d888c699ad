"""What the crash tests read back from the database, straight from the tables."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select, text

from muster.config import Settings
from muster.db.engine import create_db_engine
from muster.models.alert import Alert
from tests.crash.senders import batch_of

# each query lists what must not exist after a crash or an outage: half-written ingest
HALF_WRITTEN = {
    "alert of a missing incident": """
        SELECT a.external_id FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
        WHERE a.incident_id IS NOT NULL AND i.id IS NULL""",
    "incident whose alert_count differs from its alerts": """
        SELECT i.id FROM incidents i
        LEFT JOIN (SELECT incident_id, COUNT(*) AS n FROM alerts GROUP BY incident_id) c
          ON c.incident_id = i.id
        WHERE i.alert_count <> COALESCE(c.n, 0)""",
    "incident without alerts": """
        SELECT i.id FROM incidents i
        WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id)""",
    "timeline event of a missing incident": """
        SELECT e.id FROM audit_events e LEFT JOIN incidents i ON i.id = e.subject_id
        WHERE e.subject_type = 'incident' AND i.id IS NULL""",
    "incident without its 'created' event": """
        SELECT i.id FROM incidents i
        WHERE NOT EXISTS (SELECT 1 FROM audit_events e
                          WHERE e.subject_id = i.id AND e.action = 'incident.created')""",
}


@dataclass(frozen=True, slots=True)
class Stored:
    """The tenant's alerts as stored: per batch, how many; in all, how many and how often."""

    per_batch: Counter[int]
    alerts: int
    distinct_external_ids: int
    occurrences: int
    half_written: dict[str, int]

    def partial(self, size: int) -> dict[int, int]:
        """Batches that are neither wholly present nor wholly absent (batch -> alerts)."""
        return {b: n for b, n in self.per_batch.items() if n != size}


def read_stored(database_url: str, tenant_id: str) -> Stored:
    """Read the tenant's alerts and count every kind of half-written row (a new engine, as a
    restarted process would open it)."""
    db = create_db_engine(Settings(database_url=database_url))
    try:
        with db.engine.connect() as conn:
            mine = Alert.tenant_id == uuid.UUID(tenant_id)
            ids = conn.execute(select(Alert.external_id).where(mine)).scalars()
            per_batch = Counter(batch_of(str(external)) for external in ids)
            alerts, distinct, occurrences = conn.execute(
                select(
                    func.count(),
                    func.count(Alert.external_id.distinct()),
                    func.coalesce(func.sum(Alert.occurrences), 0),
                ).where(mine)
            ).one()
            half = {why: len(conn.execute(text(sql)).all()) for why, sql in HALF_WRITTEN.items()}
    finally:
        db.dispose()
    return Stored(per_batch, alerts, distinct, int(occurrences), half)
