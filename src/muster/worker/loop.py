"""The worker: claims due jobs and runs their handlers, on one or more threads.

A handler is called as `handler(job, now)` for each job it is registered for. It opens its own
transaction(s) and calls `complete(...)` inside the last one, so the job's effects and its
completion commit together. When `complete` returns False another worker has taken the job
over (its lease ran out): raise `LeaseLost`, which rolls the transaction back::

    def run_step(job: ClaimedJob, now: datetime) -> None:
        assert job.tenant_id is not None
        with unit_of_work(db, TenantContext(job.tenant_id), write=True) as session:
            process = session.get(SoarProcess, uuid.UUID(job.payload["processId"]))
            ...  # the step's effects, follow-up jobs via enqueue(session, ...)
            if not complete(session, job.id, job.locked_by, now=now):
                raise LeaseLost(job.id)

Policy:
- A handler that raises is retried with `next_attempt_at` backoff, and marked `failed` after
  `max_attempts`. `LeaseLost` is not a failure: the job belongs to its new worker.
- A handler that returns without calling `complete` is completed by the worker (with a
  warning), so it does not run again when its lease ends.
- A worker claims only the kinds it has handlers for (or the narrower `kinds=`), so workers
  of an older release, or of another component sharing the table, leave new kinds alone.
- A job taken over more than `max_attempts` times (it keeps killing its worker) fails.
- Work longer than half the lease renews it with `extend`; the worker renews a queued job's
  lease before starting it when half of it is gone.
- The loop never dies of one job; a database outage (`muster.db.outage`) backs off and retries.
  Jobs claimed when the outage struck run again once their lease has run out.
- `periodic` tasks (the SLA scan, purging old done jobs) run on a thread of their own, so a
  slow job never delays them, each once per its interval; one that raises is logged and
  tried again at its next turn. Several workers each run them: a task must be safe to run
  concurrently.
- Each thread claims its own batches as `hostname:pid:thread-n`. A thread sleeps
  `poll_seconds` only when a claim found nothing; `wake()` cuts the sleep short.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

import structlog

from muster.clock import Clock
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.db.outage import database_unavailable, describe
from muster.worker.backoff import next_attempt_at
from muster.worker.jobs import (
    ClaimedJob,
    LeaseLost,
    claim,
    complete,
    completed_here,
    extend,
    purge_done,
    release,
    unclaim,
)

__all__ = ["Handler", "Periodic", "Worker"]

Handler = Callable[[ClaimedJob, datetime], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Periodic:
    """A task the worker runs every `every` as `run(now)`, e.g. the SLA scan."""

    name: str
    every: timedelta
    run: Callable[[datetime], None]


log = structlog.get_logger("muster.worker")

_thread_numbers = itertools.count(1)  # process-wide: two workers in a process never share ids
OUTAGE_BACKOFF_MAX = 10.0  # seconds between attempts while the database is unreachable


class Worker:
    """Claims jobs from `db` and runs `handlers[job.kind]`, on `threads` threads."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler],
        *,
        clock: Clock,
        worker_id: str | None = None,
        poll_seconds: float = 0.2,
        lease: timedelta = timedelta(seconds=30),
        batch: int = 50,
        threads: int = 1,
        kinds: Collection[str] | None = None,
        max_attempts: int = 8,
        keep_done: timedelta = timedelta(days=1),
        purge_every: timedelta = timedelta(minutes=5),
        periodic: Sequence[Periodic] = (),
    ) -> None:
        if threads < 1 or batch < 1 or poll_seconds <= 0:
            raise ValueError("threads and batch must be at least 1, poll_seconds positive")
        self.db = db
        self.handlers = dict(handlers)
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.batch = batch
        self.kinds = frozenset(self.handlers if kinds is None else kinds)
        self.max_attempts = max_attempts
        self.keep_done = keep_done
        self.periodic = [
            *periodic,
            Periodic("purge_done_jobs", purge_every, self._purge_done),
        ]
        self.worker_ids = _worker_ids(worker_id, threads)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._next_run_at: dict[str, datetime] = {}

    @property
    def worker_id(self) -> str:
        """The first thread's id (the one `run_once` claims as)."""
        return self.worker_ids[0]

    def start(self) -> Worker:
        """Run the loop on daemon threads and return at once."""
        if self._threads:
            raise RuntimeError("worker already started")
        self._stopping.clear()
        for slot, worker_id in enumerate(self.worker_ids):
            thread = threading.Thread(
                target=self._loop, args=(slot,), name=f"muster-{worker_id}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        ticker = threading.Thread(
            target=self._periodic_loop, name=f"muster-{self.worker_id}-periodic", daemon=True
        )
        self._threads.append(ticker)
        ticker.start()
        return self

    def run_forever(self) -> None:
        """Run until `stop()` (from a signal handler or another thread); join the threads."""
        if not self._threads:
            self.start()
        while not self._stopping.wait(0.5):
            pass
        self.stop()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the threads to stop after their current job and join them; True if all ended."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("worker_stop_timed_out", threads=alive)
        return not alive

    def wake(self) -> None:
        """Cut an idle thread's poll sleep short (a producer just queued work)."""
        self._wake.set()

    def run_once(self) -> int:
        """Claim one batch as `worker_id` and run it here; return how many jobs ran."""
        return self._run_batch(self.worker_ids[0])

    def _loop(self, slot: int) -> None:
        worker_id = self.worker_ids[slot]
        log.info("worker_started", worker_id=worker_id, kinds=sorted(self.kinds))
        outages = 0
        while not self._stopping.is_set():
            try:
                ran = self._run_batch(worker_id)
                outages = 0
            except Exception as exc:
                if database_unavailable(exc):
                    outages += 1
                    self._back_off(exc, outages)
                    continue
                log.exception("worker_loop_error", worker_id=worker_id)
                ran = 0
            if ran == 0:
                self._sleep()
        log.info("worker_stopped", worker_id=worker_id)

    def _back_off(self, exc: Exception, outages: int) -> None:
        """Wait after the `outages`-th database error in a row: 0.5 s, doubling, at most
        OUTAGE_BACKOFF_MAX (or until stopped)."""
        delay = min(OUTAGE_BACKOFF_MAX, 0.25 * 2**outages)
        log.warning("worker_database_error", error=describe(exc), retry_in=delay)
        self._stopping.wait(delay)

    def _sleep(self) -> None:
        """Wait `poll_seconds`, or less if woken."""
        if self._wake.wait(self.poll_seconds) and not self._stopping.is_set():
            self._wake.clear()

    def _run_batch(self, worker_id: str) -> int:
        jobs = claim(
            self.db,
            worker_id,
            self.clock.now(),
            limit=self.batch,
            lease=self.lease,
            kinds=self.kinds,
        )
        for index, job in enumerate(jobs):
            if self._stopping.is_set():
                unclaim(self.db, jobs[index:], self.clock.now())
                return index
            self._run_job(job)
        return len(jobs)

    def _run_job(self, job: ClaimedJob) -> None:
        """Run one claimed job; every outcome but a database outage is settled here."""
        now = self.clock.now()
        bound = log.bind(job_id=str(job.id), kind=job.kind, attempt=job.attempts)
        renewed = self._fresh_lease(job, now)
        if renewed is None:
            bound.warning("job_lease_lost_before_start")
            return
        job = renewed
        handler = self.handlers.get(job.kind)
        if handler is None:
            self._settle(job, f"no handler for job kind {job.kind!r}", None)
            return
        if job.attempts > self.max_attempts:
            error = f"abandoned by its worker after {job.attempts - 1} attempts (lease expired)"
            self._settle(job, error, None)
            return
        completed_here(job.id)  # forget a stale mark
        try:
            handler(job, now)
        except LeaseLost:
            bound.warning("job_lease_lost")
            return
        except Exception as exc:
            retry_at = next_attempt_at(
                job.attempts, self.clock.now(), max_attempts=self.max_attempts
            )
            bound.warning("job_failed", error=repr(exc), retry_at=retry_at, exc_info=True)
            self._settle(job, f"{type(exc).__name__}: {exc}", retry_at)
            return
        if not completed_here(job.id):
            self._complete_for(job, bound)

    def _fresh_lease(self, job: ClaimedJob, now: datetime) -> ClaimedJob | None:
        """The job with at least half a lease left (renewed if need be); None if lost."""
        if job.locked_until - now > self.lease / 2:
            return job
        until = now + self.lease
        if not extend(self.db, job.id, job.locked_by, until):
            return None
        return dataclasses.replace(job, locked_until=until)

    def _settle(self, job: ClaimedJob, error: str, retry_at: datetime | None) -> None:
        """Release a failed attempt (to `retry_at`, or for good)."""
        if retry_at is None:
            log.error("job_gave_up", job_id=str(job.id), kind=job.kind, error=error)
        if not release(self.db, job, error=error, retry_at=retry_at, now=self.clock.now()):
            log.warning("job_lease_lost", job_id=str(job.id), kind=job.kind)

    def _complete_for(self, job: ClaimedJob, bound: structlog.typing.FilteringBoundLogger) -> None:
        """Complete a job whose handler returned without doing so (a handler bug)."""
        with unit_of_work(self.db, SystemContext(), write=True) as session:
            done = complete(session, job.id, job.locked_by, now=self.clock.now())
        bound.warning("job_not_completed_by_handler", completed_by_worker=done)

    def _periodic_loop(self) -> None:
        """Run the periodic tasks until stopped, sleeping until the next one is due."""
        outages = 0
        while not self._stopping.is_set():
            try:
                self.run_periodic()
                outages = 0
            except Exception as exc:  # run_periodic lets only an outage through
                outages += 1
                self._back_off(exc, outages)
                continue
            now = self.clock.now()
            wait = min(self._next_run_at.values(), default=now) - now
            self._stopping.wait(max(0.01, wait.total_seconds()))

    def run_periodic(self) -> None:
        """Run each periodic task whose turn has come; the others wait for theirs."""
        for task in self.periodic:
            now = self.clock.now()
            due = self._next_run_at.get(task.name)
            if due is not None and now < due:
                continue
            self._next_run_at[task.name] = now + task.every
            try:
                task.run(now)
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                log.exception("periodic_task_failed", task=task.name)

    def _purge_done(self, now: datetime) -> None:
        """Delete done jobs older than `keep_done`."""
        purged = purge_done(self.db, now - self.keep_done)
        if purged:
            log.info("jobs_purged", count=purged)


def _worker_ids(worker_id: str | None, threads: int) -> list[str]:
    """`worker_id` (suffixed `:n` per thread when several), or `hostname:pid:thread-n`."""
    if worker_id is not None:
        ids = [worker_id] if threads == 1 else [f"{worker_id}:{n}" for n in range(1, threads + 1)]
    else:
        base = f"{socket.gethostname()}:{os.getpid()}"
        ids = [f"{base}:thread-{next(_thread_numbers)}" for _ in range(threads)]
    return [i[-128:] for i in ids]  # jobs.locked_by is 128 characters
