"""Batched ingest over HTTP: 1,000 alerts per request, grouping on; alerts/s vs raw executemany.

For each database (SQLite, PostgreSQL): a fresh database and one `muster serve` process. Each
run sends pre-serialised batches back to back twice: from one sender (each batch waits for
the previous answer, so the figure is one request's latency) and from `SENDERS` concurrent
senders (several detection products forwarding at once: the server's throughput, with
parsing of one request overlapping storage of another). Each run is followed by the ceiling: the
same rows (same columns, including `raw` as JSON text) inserted with a raw driver
executemany into an equivalent table (`bench_alerts`: the columns and indexes of `alerts`,
no foreign keys), one transaction per 1,000 rows: sqlite3 for SQLite, psycopg for PostgreSQL.
The figure is the median over runs; the ratio is measured / ceiling within the same run.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from harness import (
    Database,
    HttpClient,
    Server,
    create_tenant,
    drop_database,
    fmt,
    fresh_database,
    log,
    median,
    per_backend,
    percentile,
    spread,
    table,
    workdir,
    write_results,
)
from workload import AlertFactory, raw_insert_batches

TARGETS = {"sqlite": 5_000, "postgresql": 8_000}
BATCH = 1_000
SENDERS = 4


@dataclass
class Sent:
    """One pass of batches: wall time, per-batch latencies, incidents opened per batch."""

    elapsed: float
    batch_s: list[float]
    created: list[int]
    retries: int


def send_all(port: int, key: str, bodies: list[bytes], senders: int) -> Sent:
    """POST every body with `senders` concurrent keep-alive connections; check each answer."""
    pending: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        pending.put(body)
    results: list[tuple[float, int, int]] = []
    lock = threading.Lock()

    def sender() -> None:
        client = HttpClient(port, key)
        try:
            while True:
                try:
                    body = pending.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                answer, retried = client.ingest(body)
                took = time.perf_counter() - t0
                result = orjson.loads(answer)
                assert result["alerts"] == BATCH and result["duplicates"] == 0
                with lock:
                    results.append((took, result["incidentsCreated"], retried))
        finally:
            client.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if len(results) != len(bodies):
        raise RuntimeError(f"{len(bodies) - len(results)} batches failed")
    return Sent(
        elapsed,
        [r[0] for r in results],
        [r[1] for r in results],
        sum(r[2] for r in results),
    )


def create_ceiling_table(conn: Any, kind: str) -> None:
    """`bench_alerts`: the columns (types, NOT NULLs) and indexes of `alerts`, no FKs."""
    if kind == "postgresql":
        conn.execute("DROP TABLE IF EXISTS bench_alerts")
        conn.execute("CREATE TABLE bench_alerts (LIKE alerts INCLUDING DEFAULTS INCLUDING INDEXES)")
        conn.commit()
        return
    cols = conn.execute("PRAGMA table_info(alerts)").fetchall()
    defs = [
        f"{name} {ctype}{' NOT NULL' if notnull else ''}" for _, name, ctype, notnull, _, _ in cols
    ]
    conn.execute("DROP TABLE IF EXISTS bench_alerts")
    conn.execute(f"CREATE TABLE bench_alerts ({', '.join(defs)}, PRIMARY KEY (id))")
    for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='alerts' AND sql IS NOT NULL"
    ).fetchall():
        sql = sql.replace(" ON alerts ", " ON bench_alerts ").replace("INDEX ", "INDEX bench_", 1)
        conn.execute(sql)


def ceiling(conn: Any, kind: str, batches: list[list[dict[str, Any]]], tenant: str) -> float:
    """Raw executemany of the same rows into `bench_alerts`; returns rows/s."""
    times = raw_insert_batches(conn, kind, "bench_alerts", batches, uuid.UUID(tenant))
    return sum(len(b) for b in batches) / sum(times)


def bench_one(kind: str, runs: int, batches: int, warmup: int, workers: int) -> dict[str, Any]:
    """All runs on one database kind."""
    with workdir("ingest-batch") as wd:
        db: Database = fresh_database(kind, "ingest_batch", wd)
        try:
            tenant, key = create_tenant(db, "bench-ingest")
            factory = AlertFactory(seed=11, prefix=f"batch-{kind}")
            raw = db.connect()
            create_ceiling_table(raw, kind)
            measured: dict[int, list[float]] = {1: [], SENDERS: []}
            cpu_us: dict[int, list[float]] = {1: [], SENDERS: []}
            batch_ms: dict[int, list[float]] = {1: [], SENDERS: []}
            ceilings: list[float] = []
            created: list[int] = []
            retries = 0
            with Server(db, wd, workers=workers) as server:
                warm = [
                    orjson.dumps({"alerts": factory.batch(BATCH, datetime.now(UTC))})
                    for _ in range(warmup)
                ]
                send_all(server.port, key, warm, 1)
                for run in range(runs):
                    rates = []
                    for senders in (1, SENDERS):
                        now = datetime.now(UTC)
                        payloads = [factory.batch(BATCH, now) for _ in range(batches)]
                        bodies = [orjson.dumps({"alerts": b}) for b in payloads]
                        cpu0 = server.cpu_seconds()
                        sent = send_all(server.port, key, bodies, senders)
                        cpu_us[senders].append(
                            (server.cpu_seconds() - cpu0) * 1e6 / (batches * BATCH)
                        )
                        measured[senders].append(batches * BATCH / sent.elapsed)
                        batch_ms[senders] += [d * 1000 for d in sent.batch_s]
                        retries += sent.retries
                        created += sent.created
                        rates.append(measured[senders][-1])
                    roof = ceiling(raw, kind, payloads, tenant)
                    ceilings.append(roof)
                    log(
                        f"{kind} run {run + 1}/{runs}: {fmt(rates[0])} alerts/s from 1 sender, "
                        f"{fmt(rates[1])} from {SENDERS} (ceiling {fmt(roof)} rows/s; server CPU "
                        f"{cpu_us[1][-1]:.0f} / {cpu_us[SENDERS][-1]:.0f} µs/alert)"
                    )
            raw.close()
        finally:
            drop_database(db)

    def figures(senders: int) -> dict[str, Any]:
        ratios = [m / c for m, c in zip(measured[senders], ceilings, strict=True)]
        return {
            "alerts_per_s": spread(measured[senders]),
            "ratio": round(median(ratios), 3),
            "server_cpu_us_per_alert": spread(cpu_us[senders]),
            "batch_ms_p50": round(percentile(batch_ms[senders], 50), 1),
            "batch_ms_p99": round(percentile(batch_ms[senders], 99), 1),
            "target_met": median(measured[senders]) >= TARGETS[kind],
        }

    return {
        "one_sender": figures(1),
        f"{SENDERS}_senders": figures(SENDERS),
        "ceiling_rows_per_s": spread(ceilings),
        "retried_503": retries,
        "incidents_created_per_batch": round(median(created[-batches:]), 1),
        "target_alerts_per_s": TARGETS[kind],
        "stored_alerts_at_end": (warmup + runs * batches * 2) * BATCH,
    }


def main() -> int:
    """Run the benchmark and write bench/results/ingest_batch[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", type=int, default=1, help="API processes (PostgreSQL)")
    args = parser.parse_args()
    runs, batches, warmup = (3, 6, 2) if args.quick else (4, 25, 4)

    def one(kind: str) -> dict[str, Any]:
        log(f"{kind}: {runs} runs x {batches} batches x {BATCH} alerts")
        return bench_one(kind, runs, batches, warmup, args.workers if kind == "postgresql" else 1)

    results = per_backend(args.db, one)
    rows = []
    for kind, r in results.items():
        if "skipped" in r:
            rows.append([kind, fmt(TARGETS[kind]), "skipped", "", "", "", "", ""])
            continue
        for senders, key in ((1, "one_sender"), (SENDERS, f"{SENDERS}_senders")):
            f = r[key]
            rows.append(
                [
                    kind,
                    str(senders),
                    fmt(TARGETS[kind]),
                    fmt(f["alerts_per_s"]["median"]),
                    f"{fmt(f['alerts_per_s']['min'])}-{fmt(f['alerts_per_s']['max'])}",
                    fmt(r["ceiling_rows_per_s"]["median"]),
                    f"{f['ratio']:.3f}",
                    f"{f['server_cpu_us_per_alert']['median']:.0f}",
                ]
            )
    print("\nBatched ingest (1,000 alerts/request, grouping on), alerts/s")
    header = ["db", "senders", "target", "median", "range", "ceiling rows/s", "ratio", "CPU µs"]
    print(table(header, rows))
    write_results(
        "ingest_batch",
        args.quick,
        {
            "params": {
                "runs": runs,
                "batches_per_run": batches,
                "batch_size": BATCH,
                "warmup_batches": warmup,
                "senders": [1, SENDERS],
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
