"""What one alert costs on PostgreSQL, for the capacity model of docs/scaling.md.

A fresh PostgreSQL database, `muster serve --workers W` and `SENDERS` concurrent senders
posting batches of 1,000 alerts (the workload of `ingest_batch.py`). Around the timed pass it
reads, per alert:

- muster CPU: user + system time of the server and its worker processes (`/proc`);
- PostgreSQL CPU: user + system time of every process of the PostgreSQL server (the
  postmaster's children: backends, WAL writer, checkpointer, autovacuum). The server is
  shared, so run this on a quiet machine; the figure includes any other client's work;
- WAL bytes: `pg_current_wal_lsn()` before and after;
- stored bytes: `pg_total_relation_size` of the tables ingest writes, after the pass.

Those four per-alert costs, with the throughput of the pass, are the inputs of the model.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from harness import (
    Database,
    Server,
    create_tenant,
    drop_database,
    fmt,
    fresh_database,
    log,
    median,
    pg_available,
    process_cpu_seconds,
    table,
    workdir,
    write_results,
)
from ingest_batch import BATCH, send_all
from workload import AlertFactory

TABLES = ("alerts", "incidents", "audit_events", "jobs")


def postgres_pids() -> list[int]:
    """Every process of the local PostgreSQL server (command name starts with `postgres`)."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith("postgres"):
            pids.append(int(entry.name))
    return pids


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by the live processes of the PostgreSQL server."""
    return sum(process_cpu_seconds(pid) for pid in postgres_pids())


def wal_lsn(db: Database) -> int:
    """The current WAL position in bytes."""
    with db.connect() as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
    return int(row[0])


def stored_bytes(db: Database) -> int:
    """Bytes (heap, indexes, TOAST) of the tables ingest writes."""
    with db.connect() as conn:
        total = 0
        for name in TABLES:
            row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (name,)).fetchone()
            total += int(row[0])
    return total


def bodies(count: int, seed: int) -> list[bytes]:
    """`count` batches of `BATCH` alerts, serialised, with fresh external ids."""
    factory = AlertFactory(seed, f"cap-{uuid.uuid4().hex[:8]}")
    now = datetime.now(UTC)
    return [
        orjson.dumps({"alerts": [factory.payload(now) for _ in range(BATCH)]}) for _ in range(count)
    ]


def one_run(workers: int, senders: int, batches: int, warmup: int, seed: int) -> dict[str, Any]:
    """One fresh database and server: warm up, then measure one pass of `batches`."""
    with workdir("capacity") as work:
        db = fresh_database("postgresql", f"capacity_{seed}", work)
        try:
            _, key = create_tenant(db, f"capacity-{seed}")
            with Server(db, work, workers=workers) as server:
                send_all(server.port, key, bodies(warmup, seed + 1000), senders)
                timed = bodies(batches, seed)
                stored_before = stored_bytes(db)
                cpu0, pg0, wal0 = server.cpu_seconds(), postgres_cpu_seconds(), wal_lsn(db)
                sent = send_all(server.port, key, timed, senders)
                cpu1, pg1, wal1 = server.cpu_seconds(), postgres_cpu_seconds(), wal_lsn(db)
                time.sleep(0.5)
                stored_after = stored_bytes(db)
        finally:
            drop_database(db)
    alerts = batches * BATCH
    return {
        "alerts": alerts,
        "alerts_per_s": alerts / sent.elapsed,
        "muster_cpu_us": (cpu1 - cpu0) / alerts * 1e6,
        "postgres_cpu_us": (pg1 - pg0) / alerts * 1e6,
        "wal_bytes": (wal1 - wal0) / alerts,
        "stored_bytes": (stored_after - stored_before) / alerts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run of 10 batches")
    args = parser.parse_args()
    if not pg_available():
        log("PostgreSQL is not reachable at 127.0.0.1:5432: nothing to measure")
        return 1
    runs, batches, warmup = (1, 10, 2) if args.quick else (args.runs, 40, 5)
    results = []
    for run in range(runs):
        log(f"run {run + 1}/{runs}: {batches} batches, {args.workers} API processes")
        results.append(one_run(args.workers, args.senders, batches, warmup, seed=run + 1))
    summary = {key: median([r[key] for r in results]) for key in results[0] if key != "alerts"}
    write_results(
        "capacity",
        args.quick,
        {"workers": args.workers, "senders": args.senders, "runs": results, "median": summary},
    )
    print(
        table(
            [
                "alerts/s",
                "muster CPU µs/alert",
                "PostgreSQL CPU µs/alert",
                "WAL B/alert",
                "stored B/alert",
            ],
            [
                [
                    fmt(summary["alerts_per_s"]),
                    fmt(summary["muster_cpu_us"]),
                    fmt(summary["postgres_cpu_us"]),
                    fmt(summary["wal_bytes"]),
                    fmt(summary["stored_bytes"]),
                ]
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
