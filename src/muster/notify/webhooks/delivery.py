"""The worker's webhook delivery handler."""

from __future__ import annotations

from muster.clock import Clock
from muster.config import Settings
from muster.db.engine import Database
from muster.worker.loop import Handler


def handlers(db: Database, settings: Settings, clock: Clock) -> dict[str, Handler]:
    """Webhook job handlers by job kind."""
    return {}
