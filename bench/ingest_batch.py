"""Batched ingest over HTTP: 1,000 alerts per request, grouping on; alerts/s vs raw executemany.

For each database (SQLite, PostgreSQL): a fresh database and one `muster serve` process; one
client POSTs pre-serialised batches back to back. Each run is followed by the ceiling: the
same rows (same columns, including `raw` as JSON text) inserted with a raw driver
executemany into an equivalent table (`bench_alerts`: the columns and indexes of `alerts`,
no foreign keys), one transaction per 1,000 rows: sqlite3 for SQLite, psycopg for PostgreSQL.
The figure is the median over runs; the ratio is measured / ceiling within the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
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


def bench_one(kind: str, runs: int, batches: int, warmup: int) -> dict[str, Any]:
    """All runs on one database kind."""
    with workdir("ingest-batch") as wd:
        db: Database = fresh_database(kind, "ingest_batch", wd)
        try:
            tenant, key = create_tenant(db, "bench-ingest")
            factory = AlertFactory(seed=11, prefix=f"batch-{kind}")
            raw = db.connect()
            create_ceiling_table(raw, kind)
            measured, ceilings, batch_ms, created = [], [], [], []
            cpu_us: list[float] = []
            retries = 0
            with Server(db, wd) as server:
                client = HttpClient(server.port, key)
                for _ in range(warmup):
                    body = orjson.dumps({"alerts": factory.batch(BATCH, datetime.now(UTC))})
                    client.ingest(body)
                for run in range(runs):
                    now = datetime.now(UTC)
                    payloads = [factory.batch(BATCH, now) for _ in range(batches)]
                    bodies = [orjson.dumps({"alerts": b}) for b in payloads]
                    durations = []
                    cpu0 = server.cpu_seconds()
                    start = time.perf_counter()
                    for body in bodies:
                        t0 = time.perf_counter()
                        answer, retried = client.ingest(body)
                        durations.append(time.perf_counter() - t0)
                        retries += retried
                        result = orjson.loads(answer)
                        assert result["alerts"] == BATCH and result["duplicates"] == 0
                        created.append(result["incidentsCreated"])
                    elapsed = time.perf_counter() - start
                    cpu_us.append((server.cpu_seconds() - cpu0) * 1e6 / (batches * BATCH))
                    rate = batches * BATCH / elapsed
                    roof = ceiling(raw, kind, payloads, tenant)
                    measured.append(rate)
                    ceilings.append(roof)
                    batch_ms += [d * 1000 for d in durations]
                    log(
                        f"{kind} run {run + 1}/{runs}: {fmt(rate)} alerts/s "
                        f"(ceiling {fmt(roof)} rows/s, ratio {rate / roof:.3f}; "
                        f"server CPU {cpu_us[-1]:.0f} µs/alert)"
                    )
                client.close()
            raw.close()
        finally:
            drop_database(db)
    ratios = [m / c for m, c in zip(measured, ceilings, strict=True)]
    return {
        "alerts_per_s": spread(measured),
        "ceiling_rows_per_s": spread(ceilings),
        "ratio": round(median(ratios), 3),
        "server_cpu_us_per_alert": spread(cpu_us),
        "retried_503": retries,
        "batch_ms_p50": round(percentile(batch_ms, 50), 1),
        "batch_ms_p99": round(percentile(batch_ms, 99), 1),
        "incidents_created_per_batch": round(median(created[-batches:]), 1),
        "target_alerts_per_s": TARGETS[kind],
        "target_met": median(measured) >= TARGETS[kind],
        "stored_alerts_at_end": (warmup + runs * batches) * BATCH,
    }


def main() -> int:
    """Run the benchmark and write bench/results/ingest_batch[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    runs, batches, warmup = (3, 6, 2) if args.quick else (4, 25, 4)

    def one(kind: str) -> dict[str, Any]:
        log(f"{kind}: {runs} runs x {batches} batches x {BATCH} alerts")
        return bench_one(kind, runs, batches, warmup)

    results = per_backend(args.db, one)
    rows = []
    for kind, r in results.items():
        if "skipped" in r:
            rows.append([kind, fmt(TARGETS[kind]), "skipped", "", "", ""])
            continue
        rows.append(
            [
                kind,
                fmt(TARGETS[kind]),
                fmt(r["alerts_per_s"]["median"]),
                f"{fmt(r['alerts_per_s']['min'])}-{fmt(r['alerts_per_s']['max'])}",
                fmt(r["ceiling_rows_per_s"]["median"]),
                f"{r['ratio']:.3f}",
            ]
        )
    print("\nBatched ingest (1,000 alerts/request, grouping on), alerts/s")
    print(table(["db", "target", "median", "range", "ceiling (raw executemany)", "ratio"], rows))
    write_results(
        "ingest_batch",
        args.quick,
        {
            "params": {
                "runs": runs,
                "batches_per_run": batches,
                "batch_size": BATCH,
                "warmup_batches": warmup,
                "clients": 1,
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
