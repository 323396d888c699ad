"""Soak sampling: muster's processes (VmRSS, CPU from /proc) and the database, once per second.

Every muster process is the server's or the worker's process tree (uvicorn workers, anything
they start). The database readings: size on disk (SQLite file + WAL, the WAL also alone; or
`pg_database_size`), jobs due (`queued`, `run_at <= now`) and the age of the oldest, SOAR
runs `PENDING` or `RUNNING`, and every `COUNT_EVERY` samples the incident and alert counts.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import Database, child_pids, process_cpu_seconds
from soak_report import Sample

COUNT_EVERY = 10  # samples between incident / alert counts


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += child_pids(current)
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


class Sampler:
    """Samples the muster processes and the database once per second in a thread."""

    def __init__(self, db: Database, server_pid: int, worker_pids: list[int], locust_pid: int):
        self.db, self.server_pid, self.worker_pids, self.locust_pid = (
            db,
            server_pid,
            worker_pids,
            locust_pid,
        )
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        """Begin sampling."""
        self.thread.start()
        return self

    def stop(self) -> list[Sample]:
        """Stop sampling; the samples taken."""
        self.stop_event.set()
        self.thread.join()
        return self.samples

    def _run(self) -> None:
        conn = self.db.connect()
        try:
            for n in itertools.count():
                started = time.monotonic()
                try:
                    self.samples.append(self._sample(conn, counts=n % COUNT_EVERY == 0))
                except Exception as exc:  # a failed reading must not end the soak
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    conn.rollback()
                if self.stop_event.wait(max(0.0, 1.0 - (time.monotonic() - started))):
                    return
        finally:
            conn.close()

    def _sample(self, conn: Any, counts: bool) -> Sample:
        server = process_tree(self.server_pid)
        worker = [p for pid in self.worker_pids for p in process_tree(pid)]
        queue = backlog(self.db, conn)
        incidents = alerts = None
        if counts:
            incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
            alerts = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        conn.commit()
        return Sample(
            at=time.time(),
            server_rss_mb=sum(rss_mb(p) for p in server),
            worker_rss_mb=sum(rss_mb(p) for p in worker),
            processes=len(server) + len(worker),
            server_cpu_s=sum(process_cpu_seconds(p) for p in server),
            worker_cpu_s=sum(process_cpu_seconds(p) for p in worker),
            locust_cpu_s=process_cpu_seconds(self.locust_pid),
            db_mb=database_bytes(self.db, conn) / 1e6,
            wal_mb=wal_bytes(self.db) / 1e6,
            jobs_due=queue.jobs_due,
            oldest_due_s=queue.oldest_due_s,
            soar_active=queue.soar_active,
            incidents=incidents,
            alerts=alerts,
        )


@dataclass(frozen=True)
class Backlog:
    """Jobs due now, the oldest one's wait, and SOAR runs not yet ended or waiting."""

    jobs_due: int
    oldest_due_s: float
    soar_active: int


def backlog(db: Database, conn: Any) -> Backlog:
    """The queue as it is now (`conn`: a connection from `db.connect()`)."""
    now = datetime.now(UTC)
    if db.kind == "sqlite":  # muster stores naive UTC text there
        due_at: Any = now.replace(tzinfo=None).isoformat(" ", "microseconds")
        mark = "?"
    else:
        due_at, mark = now, "%s"
    due, oldest = conn.execute(
        "SELECT count(*), min(run_at) FROM jobs WHERE state = 'queued' AND run_at <= " + mark,
        (due_at,),
    ).fetchone()
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
    active = conn.execute(
        "SELECT count(*) FROM soar_processes WHERE status IN ('PENDING', 'RUNNING')"
    ).fetchone()[0]
    conn.commit()
    return Backlog(int(due), (now - oldest).total_seconds() if oldest else 0.0, int(active))


def wait_drained(db: Database, timeout: float) -> float:
    """Seconds until no job is due and no SOAR run is pending or running (at most `timeout`)."""
    conn = db.connect()
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            queue = backlog(db, conn)
            if queue.jobs_due == 0 and queue.soar_active == 0:
                break
            time.sleep(0.5)
    finally:
        conn.close()
    return time.monotonic() - started


def wal_bytes(db: Database) -> int:
    """Size of SQLite's write-ahead log (0 on PostgreSQL)."""
    wal = Path(f"{db.path}-wal")
    return wal.stat().st_size if db.kind == "sqlite" and wal.exists() else 0


def database_bytes(db: Database, conn: Any) -> int:
    """Size on disk: the SQLite file with its WAL, or `pg_database_size`."""
    if db.kind == "sqlite":
        assert db.path is not None
        return sum(
            Path(f"{db.path}{suffix}").stat().st_size
            for suffix in ("", "-wal", "-shm")
            if Path(f"{db.path}{suffix}").exists()
        )
    return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
