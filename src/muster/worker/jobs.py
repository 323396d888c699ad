"""The durable job queue: rows in `jobs`, written with their data, claimed by workers.

A job's life::

    queued --claim--> running --complete--> done --purge_done--> (deleted)
      ^                  |  \\
      +--release(retry)--+   +--release(retry_at=None)--> failed (kept for inspection)
    running, lease expired --claim (another worker)--> running: taken over

What each function guarantees:
- `enqueue` writes in the caller's transaction, so a job exists exactly when its data does; a
  `dedup_key` that exists already makes it a no-op (the key holds until the row is purged).
- `claim` gives a job to one worker at a time: PostgreSQL skips rows another claim has locked
  (`FOR UPDATE SKIP LOCKED`); on SQLite a claim is a write transaction, and SQLite has one
  writer. A claim is a lease until `locked_until`; a worker that dies loses its jobs to the
  next claim after that.
- `complete`, `release` and `extend` act only while the caller still holds the job. When it
  was taken over they change nothing and return False; a handler must then roll back
  (`raise LeaseLost(job.id)`).
- Delivery is at least once: a job runs again after a crash or a lost lease, so handlers are
  idempotent or check the state they act on.

Jobs are not tenant-scoped (a worker serves every tenant); the rows are written with Core
statements that bind `tenant_id` explicitly, and handlers rebuild `TenantContext(tenant_id)`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.sql import Update

from muster.db import SystemContext, unit_of_work
from muster.db.bulk import insert_rows
from muster.db.engine import Database
from muster.db.tenancy import TenancyViolation, TenantContext, context_of
from muster.ids import new_id
from muster.models.job import Job

__all__ = [
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "ClaimedJob",
    "LeaseLost",
    "QueueStats",
    "claim",
    "complete",
    "enqueue",
    "enqueue_fresh",
    "extend",
    "purge_done",
    "queue_stats",
    "release",
    "renew",
    "unclaim",
]

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_ERROR_CHARS = 4000
JOBS = cast(Table, Job.__table__)
_C = JOBS.c


class LeaseLost(RuntimeError):
    """The job was taken over by another worker; the current transaction must roll back."""

    def __init__(self, job_id: uuid.UUID) -> None:
        super().__init__(f"job {job_id} was taken over by another worker")
        self.job_id = job_id


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job held by a worker until `locked_until`; `locked_by` is that worker's id."""

    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    tenant_id: uuid.UUID | None
    attempts: int  # counting this one
    run_at: datetime
    locked_by: str
    locked_until: datetime


class QueueStats(TypedDict):
    """Queue depth by state and how late the oldest due job is."""

    queued: int
    running: int
    failed: int
    oldest_queued_age_seconds: float


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime,
    tenant_id: uuid.UUID | None = None,
    dedup_key: str | None = None,
    now: datetime,
) -> uuid.UUID | None:
    """Add a job in the caller's transaction; None (nothing written) if `dedup_key` exists.

    `tenant_id` defaults to the tenant of a tenant session, which cannot enqueue for another.
    """
    ctx = context_of(session)
    if isinstance(ctx, TenantContext):
        if tenant_id is not None and tenant_id != ctx.tenant_id:
            raise TenancyViolation("a tenant session cannot enqueue another tenant's job")
        tenant_id = ctx.tenant_id
    values = _job_row(kind, payload, run_at, tenant_id, dedup_key, now)
    job_id: uuid.UUID = values["id"]
    conn = session.connection()
    if dedup_key is None:
        conn.execute(JOBS.insert().values(values))
        return job_id
    # RETURNING, not rowcount: SQLAlchemy does not keep an INSERT's rowcount
    if conn.dialect.name == "postgresql":
        stmt = pg_insert(JOBS).values(values).on_conflict_do_nothing(index_elements=["dedup_key"])
        return conn.execute(stmt.returning(_C.id)).scalar_one_or_none()
    stmt2 = sqlite_insert(JOBS).values(values).on_conflict_do_nothing(index_elements=["dedup_key"])
    return conn.execute(stmt2.returning(_C.id)).scalar_one_or_none()


def enqueue_fresh(
    session: Session,
    kind: str,
    jobs: Sequence[tuple[dict[str, Any], uuid.UUID | None, str | None]],
    *,
    run_at: datetime,
    now: datetime,
) -> None:
    """Add many jobs `(payload, tenant_id, dedup_key)` in one statement, in the caller's
    transaction: for keys that cannot exist yet (derived from ids made in this transaction),
    so no conflict handling is needed. Rows are the ones `enqueue` writes."""
    rows = [_job_row(kind, payload, run_at, tenant, key, now) for payload, tenant, key in jobs]
    if rows:
        insert_rows(session.connection(), JOBS, rows)


def _job_row(
    kind: str,
    payload: dict[str, Any],
    run_at: datetime,
    tenant_id: uuid.UUID | None,
    dedup_key: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A queued job row."""
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "kind": kind,
        "dedup_key": dedup_key,
        "payload": payload,
        "state": QUEUED,
        "run_at": run_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def claim(
    db: Database,
    worker_id: str,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    kinds: Collection[str] | None = None,
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs (abandoned ones first, then oldest `run_at`) for `lease`.

    Due: `queued` with `run_at <= now`, or `running` with `locked_until < now` (its worker
    died; taken over). Each comes back `running`, locked by `worker_id`, one attempt more.
    """
    kind_list = None if kinds is None else sorted(set(kinds))
    if limit <= 0 or kind_list == []:
        return []
    if db.dialect == "sqlite" and not _anything_due(db, now, kind_list):
        return []  # an idle poll must not take SQLite's one write lock
    rows: list[Row[Any]] = []
    with unit_of_work(db, SystemContext(), write=True) as session:
        conn = session.connection()
        for abandoned in (True, False):
            stmt = claim_statement(worker_id, now, limit - len(rows), lease, kind_list, abandoned)
            rows.extend(conn.execute(stmt))
            if len(rows) >= limit:
                break
    jobs = [ClaimedJob(**row._mapping) for row in rows]
    jobs.sort(key=lambda job: (job.run_at, job.id))
    return jobs


def claim_statement(
    worker_id: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    kinds: Sequence[str] | None,
    abandoned: bool,
) -> Update:
    """`UPDATE jobs ... WHERE id IN (due jobs by run_at, FOR UPDATE SKIP LOCKED) RETURNING`.

    One statement per state, so each is an ordered range scan of `ix_jobs_claim (state,
    run_at)` that stops after `limit` rows, however long the backlog. A running job's `run_at`
    is at most its claim time, so `run_at <= now` holds for abandoned jobs too.
    """
    due = (
        and_(_C.state == RUNNING, _C.run_at <= now, _C.locked_until < now)
        if abandoned
        else and_(_C.state == QUEUED, _C.run_at <= now)
    )
    pick = select(_C.id).where(due)
    if kinds is not None:
        pick = pick.where(_C.kind.in_(kinds))
    pick = pick.order_by(_C.run_at).limit(limit).with_for_update(skip_locked=True)
    return (
        update(JOBS)
        .where(_C.id.in_(pick.scalar_subquery()))
        .values(
            state=RUNNING,
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=_C.attempts + 1,
            updated_at=now,
        )
        .returning(
            _C.id,
            _C.kind,
            _C.payload,
            _C.tenant_id,
            _C.attempts,
            _C.run_at,
            _C.locked_by,
            _C.locked_until,
        )
    )


def _anything_due(db: Database, now: datetime, kinds: Sequence[str] | None) -> bool:
    """Whether a claim would find a job (a read: it never waits for the writer)."""
    queued = and_(_C.state == QUEUED, _C.run_at <= now)
    abandoned = and_(_C.state == RUNNING, _C.run_at <= now, _C.locked_until < now)
    with unit_of_work(db, SystemContext()) as session:
        for due in (queued, abandoned):
            probe = select(_C.id).where(due)
            if kinds is not None:
                probe = probe.where(_C.kind.in_(kinds))
            if session.connection().execute(probe.limit(1)).first() is not None:
                return True
    return False


_completed = threading.local()


def complete(
    session: Session, job_id: uuid.UUID, worker_id: str, *, now: datetime | None = None
) -> bool:
    """Mark the job done in the caller's transaction; False (nothing changed) if `worker_id`
    no longer holds it, and the caller must then roll back."""
    values: dict[str, Any] = {"state": DONE, "locked_until": None}
    if now is not None:
        values["updated_at"] = now
    result = session.connection().execute(
        update(JOBS).where(_held(job_id, worker_id)).values(values)
    )
    if result.rowcount != 1:
        return False
    if not hasattr(_completed, "ids"):
        _completed.ids = set()
    _completed.ids.add(job_id)
    return True


def completed_here(job_id: uuid.UUID) -> bool:
    """Whether this thread called `complete` for the job (and forget it); for the worker."""
    ids: set[uuid.UUID] = getattr(_completed, "ids", set())
    if job_id in ids:
        ids.discard(job_id)
        return True
    return False


def release(
    db: Database, job: ClaimedJob, *, error: str, retry_at: datetime | None, now: datetime
) -> bool:
    """End a failed attempt: queued again at `retry_at`, or `failed` when it is None; False if
    the job is no longer held by `job.locked_by`."""
    values: dict[str, Any] = {
        "state": FAILED if retry_at is None else QUEUED,
        "locked_until": None,
        "last_error": error[:MAX_ERROR_CHARS],
        "updated_at": now,
    }
    if retry_at is not None:
        values |= {"run_at": retry_at, "locked_by": None}
    with unit_of_work(db, SystemContext(), write=True) as session:
        stmt = update(JOBS).where(_held(job.id, job.locked_by)).values(values)
        return session.connection().execute(stmt).rowcount == 1


def unclaim(db: Database, jobs: Sequence[ClaimedJob], now: datetime) -> int:
    """Put claimed jobs that were never started back in the queue, the attempt not counted;
    return how many were still held."""
    count = 0
    with unit_of_work(db, SystemContext(), write=True) as session:
        for job in jobs:
            stmt = (
                update(JOBS)
                .where(_held(job.id, job.locked_by))
                .values(
                    state=QUEUED,
                    locked_by=None,
                    locked_until=None,
                    attempts=_C.attempts - 1,
                    updated_at=now,
                )
            )
            count += session.connection().execute(stmt).rowcount
    return count


def extend(db: Database, job_id: uuid.UUID, worker_id: str, until: datetime) -> bool:
    """Renew the lease to `until`; False if `worker_id` no longer holds the job."""
    with unit_of_work(db, SystemContext(), write=True) as session:
        return renew(session, job_id, worker_id, until)


def renew(session: Session, job_id: uuid.UUID, worker_id: str, until: datetime) -> bool:
    """Renew the lease to `until` in the caller's transaction; False if `worker_id` no longer
    holds the job (the caller must then roll back: its work belongs to the new holder)."""
    stmt = update(JOBS).where(_held(job_id, worker_id)).values(locked_until=until)
    return session.connection().execute(stmt).rowcount == 1


def purge_done(db: Database, older_than: datetime, *, batch: int = 5_000) -> int:
    """Delete jobs finished before `older_than`, `batch` rows per transaction; return how many."""
    # a done job's run_at is before its completion: the run_at bound lets ix_jobs_claim serve
    old = and_(_C.state == DONE, _C.run_at < older_than, _C.updated_at < older_than)
    total = 0
    while True:
        with unit_of_work(db, SystemContext(), write=True) as session:
            ids = select(_C.id).where(old).limit(batch).scalar_subquery()
            deleted = session.connection().execute(delete(JOBS).where(_C.id.in_(ids))).rowcount
        total += deleted
        if deleted < batch:
            return total


def queue_stats(session: Session, *, now: datetime) -> QueueStats:
    """Jobs per state (done excluded) and the age of the oldest due queued job (0 if none)."""
    conn = session.connection()
    by_state = (
        select(_C.state, func.count())
        .where(_C.state.in_((QUEUED, RUNNING, FAILED)))
        .group_by(_C.state)
    )
    counts: dict[str, int] = {state: count for state, count in conn.execute(by_state)}
    oldest = conn.execute(
        select(func.min(_C.run_at)).where(_C.state == QUEUED, _C.run_at <= now)
    ).scalar_one_or_none()
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return QueueStats(
        queued=int(counts.get(QUEUED, 0)),
        running=int(counts.get(RUNNING, 0)),
        failed=int(counts.get(FAILED, 0)),
        oldest_queued_age_seconds=age,
    )


def _held(job_id: uuid.UUID, worker_id: str) -> Any:
    """The job is running and locked by `worker_id`."""
    return and_(_C.id == job_id, _C.state == RUNNING, _C.locked_by == worker_id)
