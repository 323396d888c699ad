"""The SLA scheduler: raises `sla.at_risk` and `sla.breached` once per incident and target."""

from __future__ import annotations

from muster.clock import Clock
from muster.config import Settings
from muster.db.engine import Database
from muster.worker.loop import Periodic


def periodic_tasks(db: Database, settings: Settings, clock: Clock) -> list[Periodic]:
    """The worker's periodic SLA scan."""
    return []
