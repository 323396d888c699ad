"""Group commit for ingest: concurrent requests of one tenant share a transaction.

Thirty-two clients each posting one alert would otherwise pay for thirty-two transactions,
each with its own rule lookup, candidate query and commit. Instead, a request validates its
alerts, queues them, and waits. One writer per tenant drains the queue: everything queued
while the previous transaction ran is stored by one `store` call and one commit, and then
every waiting request gets its own items back. When the server is idle a request is stored at
once (nobody waits for a timer); under load, transactions grow by themselves.

What each request may rely on is unchanged: its alerts are stored all together or not at all,
and it is answered only after the commit. If a combined transaction fails, each request is
retried alone, so one request's failure is never another's.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from muster import telemetry
from muster.alerts.batch import Prepared
from muster.alerts.ingest import IngestReport, store
from muster.clock import Clock
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database

log = structlog.get_logger("muster.ingest")


@dataclass(slots=True)
class _Waiting:
    batch: Sequence[Prepared]
    future: asyncio.Future[IngestReport]
    loop: asyncio.AbstractEventLoop


class IngestCombiner:
    """Stores queued batches, one writer per tenant, several requests per transaction."""

    def __init__(self, db: Database, clock: Clock, *, max_group_alerts: int = 5_000) -> None:
        self.db = db
        self.clock = clock
        self.max_group_alerts = max_group_alerts
        self._lock = threading.Lock()
        self._queues: dict[uuid.UUID, list[_Waiting]] = defaultdict(list)
        self._draining: set[uuid.UUID] = set()
        # SQLite has one writer; PostgreSQL serialises one tenant's ingests on its tenant row.
        workers = 1 if db.dialect == "sqlite" else 8
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="muster-ingest")

    async def submit(self, tenant_id: uuid.UUID, batch: Sequence[Prepared]) -> IngestReport:
        """Store `batch` in the tenant (possibly with other requests' batches); wait for commit."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(batch, loop.create_future(), loop)
        with self._lock:
            self._queues[tenant_id].append(waiting)
            start = tenant_id not in self._draining
            self._draining.add(tenant_id)
        if start:
            self._pool.submit(self._drain, tenant_id)
        return await waiting.future

    def close(self) -> None:
        """Finish what is queued and stop the writers."""
        self._pool.shutdown(wait=True)

    def _drain(self, tenant_id: uuid.UUID) -> None:
        while True:
            with self._lock:
                group = self._take(tenant_id)
                if not group:
                    self._draining.discard(tenant_id)
                    return
            self._flush(tenant_id, group)

    def _take(self, tenant_id: uuid.UUID) -> list[_Waiting]:
        """Dequeue requests up to `max_group_alerts` alerts (at least one request)."""
        queue = self._queues[tenant_id]
        taken, alerts = 0, 0
        while taken < len(queue) and (
            taken == 0 or alerts + len(queue[taken].batch) <= self.max_group_alerts
        ):
            alerts += len(queue[taken].batch)
            taken += 1
        group = queue[:taken]
        del queue[:taken]
        if not queue:
            self._queues.pop(tenant_id, None)
        return group

    def _flush(self, tenant_id: uuid.UUID, group: list[_Waiting]) -> None:
        try:
            with unit_of_work(self.db, TenantContext(tenant_id), write=True) as session:
                report = store(session, [p for w in group for p in w.batch], self.clock.now())
        except BaseException as exc:
            if len(group) == 1:
                _resolve(group[0], None, exc)
                return
            log.warning("ingest_group_retried_alone", requests=len(group), error=str(exc))
            for waiting in group:
                self._flush(tenant_id, [waiting])
            return
        stored = len(report.items) - report.duplicates
        telemetry.count_ingested(stored, report.duplicates)  # committed: a failed try never counts
        self.db.inserted("alerts", stored)
        self.db.inserted("incidents", report.incidents_created)
        start = 0
        for waiting in group:
            end = start + len(waiting.batch)
            _resolve(waiting, report.part(start, end), None)
            start = end


def _resolve(waiting: _Waiting, report: IngestReport | None, error: BaseException | None) -> None:
    def settle() -> None:
        if waiting.future.done():  # the client went away; the data is committed regardless
            return
        if error is not None:
            waiting.future.set_exception(error)
        else:
            waiting.future.set_result(report)  # type: ignore[arg-type]

    waiting.loop.call_soon_threadsafe(settle)
