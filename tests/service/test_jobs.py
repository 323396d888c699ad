"""The job queue and the worker loop, on SQLite and PostgreSQL.

Jobs are not tenant-scoped and the database is shared by every test of a pytest worker, so
each test makes its own job kinds (`_kind()`) and claims only those.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from tests.factories import TenantKeys

from muster.clock import FrozenClock, SystemClock
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.db.tenancy import TenancyViolation
from muster.worker import loop as worker_loop
from muster.worker.backoff import next_attempt_at
from muster.worker.jobs import (
    JOBS,
    ClaimedJob,
    LeaseLost,
    claim,
    complete,
    enqueue,
    extend,
    purge_done,
    queue_stats,
    release,
    unclaim,
)
from muster.worker.loop import Worker

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
S = timedelta(seconds=1)


def _kind() -> str:
    return f"test.{uuid.uuid4().hex[:16]}"


def _add(db: Database, kind: str, run_at: datetime = NOW, **kw: Any) -> uuid.UUID:
    with unit_of_work(db, SystemContext(), write=True) as session:
        job_id = enqueue(session, kind, kw.pop("payload", {}), run_at=run_at, now=NOW, **kw)
    assert job_id is not None
    return job_id


def _row(db: Database, job_id: uuid.UUID) -> Any:
    with unit_of_work(db, SystemContext()) as session:
        return session.connection().execute(select(JOBS).where(JOBS.c.id == job_id)).one()


def _claim(db: Database, kind: str, worker: str, at: datetime, limit: int = 10) -> list[ClaimedJob]:
    return claim(db, worker, at, limit=limit, lease=LEASE, kinds=[kind])


class TestEnqueue:
    def test_writes_a_queued_job(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind, NOW + S, payload={"n": 1, "big": 2**70})
        row = _row(db, job_id)
        assert (row.kind, row.state, row.attempts, row.tenant_id) == (kind, "queued", 0, None)
        assert row.payload == {"n": 1, "big": 2**70}
        assert row.run_at == NOW + S and row.locked_by is None

    def test_dedup_key_makes_one_job(self, db: Database) -> None:
        kind, key = _kind(), f"dedup-{uuid.uuid4()}"
        first = _add(db, kind, dedup_key=key)
        with unit_of_work(db, SystemContext(), write=True) as session:
            again = enqueue(session, kind, {}, run_at=NOW, dedup_key=key, now=NOW)
            other = enqueue(session, kind, {}, run_at=NOW, dedup_key=key + "x", now=NOW)
            twice = enqueue(session, kind, {}, run_at=NOW, dedup_key=key + "x", now=NOW)
        assert again is None and twice is None and other is not None
        assert [j.id for j in _claim(db, kind, "w", NOW)] == sorted([first, other])

    def test_rolled_back_transaction_leaves_no_job(self, db: Database) -> None:
        kind = _kind()
        with pytest.raises(RuntimeError), unit_of_work(db, SystemContext(), write=True) as s:
            enqueue(s, kind, {}, run_at=NOW, now=NOW)
            raise RuntimeError("rolled back")
        assert _claim(db, kind, "w", NOW) == []

    def test_tenant_session_stamps_its_tenant(
        self, db: Database, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        kind = _kind()
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            implicit = enqueue(session, kind, {}, run_at=NOW, now=NOW)
            explicit = enqueue(session, kind, {}, run_at=NOW, tenant_id=tenant.id, now=NOW)
            with pytest.raises(TenancyViolation):
                enqueue(session, kind, {}, run_at=NOW, tenant_id=other_tenant.id, now=NOW)
        assert implicit is not None and explicit is not None
        assert {j.tenant_id for j in _claim(db, kind, "w", NOW)} == {tenant.id}


class TestClaim:
    def test_oldest_first_and_future_untouched(self, db: Database) -> None:
        kind = _kind()
        middle = _add(db, kind, NOW - 2 * S)
        newest = _add(db, kind, NOW)
        oldest = _add(db, kind, NOW - 5 * S)
        future = _add(db, kind, NOW + S)
        jobs = _claim(db, kind, "w1", NOW)
        assert [j.id for j in jobs] == [oldest, middle, newest]
        assert all(j.attempts == 1 and j.locked_by == "w1" for j in jobs)
        assert all(j.locked_until == NOW + LEASE for j in jobs)
        row = _row(db, oldest)
        assert (row.state, row.locked_by, row.attempts) == ("running", "w1", 1)
        assert _row(db, future).state == "queued"
        assert [j.id for j in _claim(db, kind, "w2", NOW + S)] == [future]

    def test_limit_takes_the_oldest(self, db: Database) -> None:
        kind = _kind()
        ids = [_add(db, kind, NOW - i * S) for i in range(3)]
        assert [j.id for j in _claim(db, kind, "w", NOW, limit=2)] == [ids[2], ids[1]]
        assert [j.id for j in _claim(db, kind, "w", NOW, limit=2)] == [ids[0]]
        assert _claim(db, kind, "w", NOW) == []

    def test_only_the_given_kinds(self, db: Database) -> None:
        mine, other = _kind(), _kind()
        job = _add(db, mine)
        _add(db, other)
        assert [j.id for j in _claim(db, mine, "w", NOW)] == [job]
        assert claim(db, "w", NOW, limit=10, lease=LEASE, kinds=[]) == []

    def test_expired_lease_is_taken_over(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        (old,) = _claim(db, kind, "old", NOW)
        assert _claim(db, kind, "new", NOW + LEASE) == [], "the lease still holds at its end"
        (new,) = _claim(db, kind, "new", NOW + LEASE + S)
        assert (new.id, new.attempts, new.locked_by) == (job_id, 2, "new")
        assert not extend(db, job_id, "old", NOW + 2 * LEASE)
        assert not release(db, old, error="late", retry_at=None, now=NOW + LEASE + S)
        with unit_of_work(db, SystemContext(), write=True) as session:
            assert not complete(session, job_id, "old")
        with unit_of_work(db, SystemContext(), write=True) as session:
            assert complete(session, job_id, "new", now=NOW + LEASE + 2 * S)
        row = _row(db, job_id)
        assert (row.state, row.locked_by, row.attempts) == ("done", "new", 2)

    def test_extend_keeps_the_job(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        _claim(db, kind, "w", NOW)
        assert extend(db, job_id, "w", NOW + 3 * LEASE)
        assert _claim(db, kind, "thief", NOW + 2 * LEASE) == []
        assert [j.id for j in _claim(db, kind, "thief", NOW + 3 * LEASE + S)] == [job_id]

    def test_concurrent_claims_are_disjoint(self, db: Database) -> None:
        kind = _kind()
        with unit_of_work(db, SystemContext(), write=True) as session:
            ids = {enqueue(session, kind, {"i": i}, run_at=NOW, now=NOW) for i in range(200)}
        barrier = threading.Barrier(4)
        taken: dict[str, list[uuid.UUID]] = {}

        def worker(name: str) -> None:
            mine: list[uuid.UUID] = []
            barrier.wait()
            while batch := _claim(db, kind, name, NOW, limit=7):
                mine += [j.id for j in batch]
            taken[name] = mine

        threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        everything = [job for mine in taken.values() for job in mine]
        assert len(everything) == len(set(everything)) == 200, "a job was claimed twice"
        assert set(everything) == ids
        assert sum(1 for mine in taken.values() if mine) >= 2, "claims did not interleave"


class TestRelease:
    def test_backoff_until_failed(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        at, retries = NOW, []
        while True:
            (job,) = _claim(db, kind, "w", at)
            retry_at = next_attempt_at(job.attempts, at)
            assert release(db, job, error=f"boom {job.attempts}", retry_at=retry_at, now=at)
            if retry_at is None:
                break
            retries.append(retry_at - at)
            assert _claim(db, kind, "w", retry_at - timedelta(microseconds=1)) == []
            at = retry_at
        assert retries == [timedelta(seconds=2**n) for n in range(7)]
        row = _row(db, job_id)
        assert (row.state, row.attempts, row.last_error) == ("failed", 8, "boom 8")
        assert _claim(db, kind, "w", at + timedelta(days=1)) == []

    def test_unclaim_does_not_count_the_attempt(self, db: Database) -> None:
        kind = _kind()
        first, second = _add(db, kind, NOW - S), _add(db, kind)
        jobs = _claim(db, kind, "w", NOW)
        assert unclaim(db, jobs[1:], NOW) == 1
        assert _row(db, second).state == "queued" and _row(db, second).attempts == 0
        assert _row(db, first).state == "running"


class TestHousekeeping:
    def test_purge_deletes_old_done_jobs_only(self, db: Database) -> None:
        kind = _kind()
        old_done, recent_done, queued = (_add(db, kind, NOW - 10 * S) for _ in range(3))
        jobs = {j.id: j for j in _claim(db, kind, "w", NOW - 10 * S)}
        release(db, jobs[queued], error="again", retry_at=NOW - 10 * S, now=NOW - 10 * S)
        for job_id, at in ((old_done, NOW - 5 * S), (recent_done, NOW)):
            with unit_of_work(db, SystemContext(), write=True) as session:
                assert complete(session, job_id, "w", now=at)
        assert purge_done(db, NOW - S, batch=1) >= 1
        with unit_of_work(db, SystemContext()) as session:
            left = session.connection().execute(select(JOBS.c.id).where(JOBS.c.kind == kind))
            assert set(left.scalars()) == {recent_done, queued}

    def test_queue_stats(self, db: Database) -> None:
        kind = _kind()
        for at in (NOW - 90 * S, NOW - S, NOW + S):
            _add(db, kind, at)
        failing = _add(db, kind, NOW - 100 * S)
        (job,) = _claim(db, kind, "w", NOW - 95 * S)
        assert job.id == failing
        release(db, job, error="x", retry_at=None, now=NOW)
        _claim(db, kind, "w", NOW - 5 * S)  # the NOW - 90 s job is now running
        with unit_of_work(db, SystemContext()) as session:
            stats = queue_stats(session, now=NOW)
        assert stats["queued"] >= 2 and stats["running"] >= 1 and stats["failed"] >= 1
        assert stats["oldest_queued_age_seconds"] >= 1.0


def _worker(db: Database, kinds: list[str], handlers: Any, **kw: Any) -> Worker:
    kw.setdefault("clock", FrozenClock(NOW))
    return Worker(db, handlers, kinds=kinds, lease=LEASE, **kw)


class TestWorkerRunOnce:
    def test_failing_handler_is_retried_with_backoff(self, db: Database) -> None:
        kind, calls = _kind(), []
        clock = FrozenClock(NOW)

        def flaky(job: ClaimedJob, now: datetime) -> None:
            calls.append(job.attempts)
            if job.attempts == 1:
                raise ValueError("boom")
            with unit_of_work(db, SystemContext(), write=True) as session:
                if not complete(session, job.id, job.locked_by, now=now):
                    raise LeaseLost(job.id)

        job_id = _add(db, kind)
        worker = _worker(db, [kind], {kind: flaky}, clock=clock)
        assert worker.run_once() == 1
        row = _row(db, job_id)
        assert (row.state, row.run_at, row.last_error) == ("queued", NOW + S, "ValueError: boom")
        assert worker.run_once() == 0
        clock.advance(S)
        assert worker.run_once() == 1
        assert calls == [1, 2] and _row(db, job_id).state == "done"

    def test_unknown_kind_fails_at_once(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        assert _worker(db, [kind], {}).run_once() == 1
        row = _row(db, job_id)
        assert row.state == "failed" and row.last_error == f"no handler for job kind {kind!r}"

    def test_handler_that_forgets_complete_is_completed(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        assert _worker(db, [kind], {kind: lambda job, now: None}).run_once() == 1
        assert _row(db, job_id).state == "done"

    def test_lease_lost_leaves_the_job_to_its_new_worker(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)

        def overtaken(job: ClaimedJob, now: datetime) -> None:
            with unit_of_work(db, SystemContext(), write=True) as session:
                stmt = update(JOBS).where(JOBS.c.id == job.id).values(locked_by="new")
                session.connection().execute(stmt)
            with unit_of_work(db, SystemContext(), write=True) as session:
                if not complete(session, job.id, job.locked_by):
                    raise LeaseLost(job.id)

        assert _worker(db, [kind], {kind: overtaken}).run_once() == 1
        row = _row(db, job_id)
        assert (row.state, row.locked_by, row.last_error) == ("running", "new", None)

    def test_job_abandoned_too_often_fails(self, db: Database) -> None:
        kind = _kind()
        job_id = _add(db, kind)
        for n in range(3):
            assert _claim(db, kind, f"dead{n}", NOW + n * 2 * LEASE)
        clock = FrozenClock(NOW + 6 * LEASE)
        worker = _worker(db, [kind], {kind: lambda job, now: None}, clock=clock, max_attempts=3)
        assert worker.run_once() == 1
        row = _row(db, job_id)
        assert row.state == "failed" and "abandoned" in (row.last_error or "")

    def test_stop_mid_batch_returns_the_rest(self, db: Database) -> None:
        kind = _kind()
        ids = [_add(db, kind, NOW - (3 - i) * S) for i in range(3)]
        workers: list[Worker] = []

        def stop_after_this(job: ClaimedJob, now: datetime) -> None:
            workers[0].stop(timeout=0)

        workers.append(_worker(db, [kind], {kind: stop_after_this}))
        assert workers[0].run_once() == 1
        assert [_row(db, i).state for i in ids] == ["done", "queued", "queued"]
        assert [_row(db, i).attempts for i in ids] == [1, 0, 0]


@pytest.fixture()
def running() -> Iterator[list[Worker]]:
    """Workers started by a test; stopped afterwards whatever happens."""
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        worker.stop()


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


class TestWorkerThread:
    def test_timer_runs_within_a_second_of_run_at(
        self, db: Database, running: list[Worker], capsys: pytest.CaptureFixture[str]
    ) -> None:
        kind, clock = _kind(), SystemClock()
        lateness: dict[uuid.UUID, float] = {}

        def timer(job: ClaimedJob, now: datetime) -> None:
            lateness[job.id] = (clock.now() - job.run_at).total_seconds()

        running.append(_worker(db, [kind], {kind: timer}, clock=clock).start())
        start = clock.now()
        with unit_of_work(db, SystemContext(), write=True) as session:
            for delay in (0.3, 0.55, 0.8, 1.05, 1.3):
                at = start + timedelta(seconds=delay)
                enqueue(session, kind, {}, run_at=at, now=start)
        assert _wait_for(lambda: len(lateness) == 5, 10), "the timers did not all run"
        worst = max(lateness.values())
        with capsys.disabled():
            print(
                f"\ntimer lateness ({db.dialect}): "
                + ", ".join(f"{s * 1000:.0f} ms" for s in sorted(lateness.values()))
            )
        assert all(s >= 0 for s in lateness.values()), "a timer ran before its run_at"
        assert worst < 1.0

    def test_failing_job_does_not_stop_the_loop(self, db: Database, running: list[Worker]) -> None:
        kind, done = _kind(), threading.Event()

        def handler(job: ClaimedJob, now: datetime) -> None:
            if job.payload["fail"]:
                raise RuntimeError("bad job")
            done.set()

        bad = _add(db, kind, SystemClock().now(), payload={"fail": True})
        worker = _worker(db, [kind], {kind: handler}, clock=SystemClock()).start()
        running.append(worker)
        assert _wait_for(lambda: _row(db, bad).attempts == 1, 5)
        _add(db, kind, SystemClock().now(), payload={"fail": False})
        worker.wake()
        assert done.wait(5), "the loop died after a failing job"
        assert _wait_for(lambda: _row(db, bad).attempts == 2, 5), "the failed job was not retried"

    def test_database_error_backs_off_and_recovers(
        self, db: Database, running: list[Worker], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        kind, done = _kind(), threading.Event()
        failures = [2]

        def flaky_claim(*args: Any, **kwargs: Any) -> list[ClaimedJob]:
            if failures[0] > 0:
                failures[0] -= 1
                raise OperationalError("SELECT", {}, Exception("connection refused"))
            return claim(*args, **kwargs)

        monkeypatch.setattr(worker_loop, "claim", flaky_claim)
        _add(db, kind, SystemClock().now())
        handlers = {kind: lambda job, now: done.set()}
        running.append(_worker(db, [kind], handlers, clock=SystemClock()).start())
        assert done.wait(10), "the worker did not recover from the outage"
        assert failures == [0]

    def test_wake_cuts_the_poll_short(self, db: Database, running: list[Worker]) -> None:
        kind, done = _kind(), threading.Event()
        handlers = {kind: lambda job, now: done.set()}
        worker = _worker(db, [kind], handlers, clock=SystemClock(), poll_seconds=5).start()
        running.append(worker)
        time.sleep(0.5)  # the first (empty) claim is over: the thread sleeps for 5 s
        _add(db, kind, SystemClock().now())
        worker.wake()
        assert done.wait(2)

    def test_periodic_tasks_keep_their_interval_while_a_job_runs_long(
        self, db: Database, running: list[Worker]
    ) -> None:
        kind, started, release_job = _kind(), threading.Event(), threading.Event()
        ticks: list[float] = []

        def slow(job: ClaimedJob, now: datetime) -> None:
            started.set()
            release_job.wait(5)

        tick = worker_loop.Periodic("tick", timedelta(seconds=0.1), lambda now: ticks.append(1))
        _add(db, kind, SystemClock().now())
        worker = _worker(db, [kind], {kind: slow}, clock=SystemClock(), periodic=[tick]).start()
        running.append(worker)
        assert started.wait(5), "the job did not start"
        before = len(ticks)
        time.sleep(0.6)
        during = len(ticks) - before
        release_job.set()
        assert during >= 3, f"the periodic task ran {during} times in 0.6 s behind a slow job"

    def test_stop_joins_promptly(self, db: Database) -> None:
        worker = _worker(db, [_kind()], {}, clock=SystemClock(), threads=2).start()
        time.sleep(0.3)
        started = time.monotonic()
        assert worker.stop()
        assert time.monotonic() - started < 1.0
        names = {f"muster-{worker_id}" for worker_id in worker.worker_ids}
        assert not any(t.name in names for t in threading.enumerate())
