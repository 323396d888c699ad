"""The SLA scheduler: raises `sla.at_risk` and `sla.breached` once per incident and target.

Every incident with an event still to raise has `sla_next_at`: the earliest time one could fall
due (`muster.sla.clock.next_check_at`); it is None when nothing is left. A scan takes the
incidents with `sla_next_at <= now`, earliest first, in bounded batches; for each it asks the
pure clock which events are due, writes them to the timeline (which publishes them: webhooks,
e-mail, counters) and stores the new flags and next check time, all in one transaction.

Exactly once: the flags and the timeline rows commit together, and two scans never hold the
same incident: on PostgreSQL the batch is locked `FOR UPDATE SKIP LOCKED`, and SQLite has one
writer. On time: an event is raised by the first scan after it falls due, so it is late by at
most the scan interval (`sla_scan_seconds`) plus the scan itself: the worker runs periodic
tasks on a thread of their own, so jobs never hold a scan back.

The scan runs in a system unit of work (one scan serves every tenant); every row it writes
carries its incident's `tenant_id`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row

from muster.clock import Clock
from muster.config import Settings
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import SYSTEM
from muster.incidents.timeline import event_row, write_events
from muster.sla import repository
from muster.sla.clock import SlaEvent, SlaState, after_scan, next_check_at
from muster.worker.loop import Periodic

__all__ = ["BATCH", "periodic_tasks", "scan", "scan_once"]

log = structlog.get_logger("muster.sla")

BATCH = 500  # incidents per transaction
MAX_BATCHES = 20  # per scan: a backlog larger than this waits for the next scan


def periodic_tasks(db: Database, settings: Settings, clock: Clock) -> list[Periodic]:
    """The worker's periodic SLA scan."""
    return [
        Periodic(
            "sla_scan",
            timedelta(seconds=settings.sla_scan_seconds),
            lambda now: _logged(scan(db, now)),
        )
    ]


def _logged(raised: int) -> None:
    if raised:
        log.info("sla_events_raised", count=raised)


def scan(db: Database, now: datetime, *, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Raise every SLA event due at `now` (up to `max_batches` batches); return how many."""
    raised = 0
    for _ in range(max_batches):
        count, full = scan_once(db, now, batch)
        raised += count
        if not full:
            break
    return raised


def scan_once(db: Database, now: datetime, limit: int = BATCH) -> tuple[int, bool]:
    """Raise the events of up to `limit` due incidents in one transaction; return how many
    events, and whether the batch was full (more may be due)."""
    if db.dialect == "sqlite":  # an idle scan must not take SQLite's one write lock
        with unit_of_work(db, SystemContext()) as session:
            if not repository.anything_due(session.connection(), now):
                return 0, False
    with unit_of_work(db, SystemContext(), write=True) as session:
        connection = session.connection()
        rows = repository.claim_due(connection, now, limit)
        if not rows:
            return 0, False
        policies = repository.policies(connection, {row.tenant_id for row in rows})
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for row in rows:
            fraction = policies[row.tenant_id].at_risk_fraction
            due, after = after_scan(repository.facts(row), fraction, now)
            events.extend(_timeline_row(row, event, now) for event in due)
            updates.append(
                {
                    "b_id": row.id,
                    "b_raised": after.raised,
                    "b_next": next_check_at(after, fraction),
                }
            )
        repository.set_raised(connection, updates)
        write_events(session, events)
    return len(events), len(rows) == limit


_REASONS = {
    SlaState.AT_RISK: "the {target} target is at risk: due {due}",
    SlaState.BREACHED: "the {target} target was breached: it was due {due}",
}


def _timeline_row(row: Row[Any], event: SlaEvent, now: datetime) -> dict[str, Any]:
    """The timeline entry announcing one SLA event."""
    due = event.due_at.isoformat()
    return event_row(
        row.tenant_id,
        row.id,
        event.action,
        SYSTEM,
        now,
        changes={"target": event.target.value, "dueAt": due, "state": event.state.value},
        reason=_REASONS[event.state].format(target=event.target.value, due=due),
    )
