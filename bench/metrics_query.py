"""Incident metrics (`GET /api/v1/metrics/incidents`) at 1,000,000 incidents in one tenant.

Per database: a fresh database (`muster db upgrade`), three tenants through the CLI, then
1,000,000 incidents for the measured tenant and 50,000 for each of two others, created
evenly over the 90 days before now and bulk loaded (sqlite3 executemany / COPY, secondary
indexes dropped and recreated, then ANALYZE). The generated spread: severity 1-4
(20/35/30/15 %), six sources, twelve ATT&CK tactics (10 % none), eight analysts (5 % SOAR);
~72 % responded and ~50 % resolved after log-normal delays around each severity's target (a
third or so miss it), 2 % excluded from SLA, and the oldest tenth predates the SLA engine
(no due times).

Each query is timed through the service (`incident_metrics` in a unit of work: what the
route runs, without HTTP) as the median of --runs runs after a warm-up, next to the ceiling
measured in the same run: `SELECT count(*), avg(responded_at - created_at) ... GROUP BY
severity` over the same rows. The default query (last 30 days, groupBy=severity) is also
timed over HTTP against `muster serve`. Results: bench/results/metrics_query[-quick].json.

    .venv/bin/python bench/metrics_query.py [--quick] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Uuid, bindparam, text

from harness import (
    Database,
    HttpClient,
    Server,
    create_tenant,
    drop_database,
    fmt,
    fresh_database,
    log,
    per_backend,
    spread,
    table,
    workdir,
    write_results,
)
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import create_db_engine
from muster.db.types import UTCDateTime
from muster.sla.metrics import incident_metrics
from muster.sla.metrics_params import metrics_query
from workload import (
    ANALYSTS,
    SOURCES,
    TECHNIQUES,
    Codec,
    create_indexes,
    drop_indexes,
    incident_hash,
    insert_rows,
    secondary_indexes,
    uuid7,
)

TARGET_MS = 1000.0
SPAN = timedelta(days=90)
# response / resolution targets by severity (the shape of the SLA engine's default policy)
TARGETS = {
    1: (timedelta(hours=8), timedelta(days=7)),
    2: (timedelta(hours=4), timedelta(days=3)),
    3: (timedelta(hours=1), timedelta(hours=24)),
    4: (timedelta(minutes=15), timedelta(hours=4)),
}
METRICS_SOURCES = (*SOURCES, "manual")
TACTICS = tuple(t[0] for t in TECHNIQUES)
COLUMNS = (
    "id", "tenant_id", "number", "incident_hash", "description", "details", "severity",
    "assignee", "assignee_name", "status", "resolution", "resolution_comment", "source",
    "mitre_tactic", "mitre_technique", "grouping_allowed", "exclude_from_sla", "responded_at",
    "resolved_at", "tags", "soar_process_id", "soar_status", "soar_timeout", "grouping_key",
    "grouping_rule", "alert_count", "first_alert_at", "last_alert_at", "response_due_at",
    "resolution_due_at", "sla_raised", "sla_next_at", "version", "created_at", "updated_at",
)  # fmt: skip
# (label, groupBy, period, scope); the first two are the targets
QUERIES = (
    ("default: groupBy=severity", "severity", "day", "tenant"),
    ("groupBy=period, period=day", "period", "day", "tenant"),
    ("no groupBy (totals)", "", "day", "tenant"),
    ("groupBy=source,tactic", "source,tactic", "day", "tenant"),
    ("groupBy=assignee,period, period=week", "assignee,period", "week", "tenant"),
    ("scope=all, groupBy=tenant,severity", "tenant,severity", "day", "all"),
)
CEILING = {
    "sqlite": "SELECT severity, count(*), avg(julianday(responded_at) - julianday(created_at))"
    " FROM incidents WHERE tenant_id = :t AND created_at >= :a AND created_at < :b"
    " GROUP BY severity",
    "postgresql": "SELECT severity, count(*), avg(extract(epoch FROM responded_at - created_at))"
    " FROM incidents WHERE tenant_id = :t AND created_at >= :a AND created_at < :b"
    " GROUP BY severity",
}


def incident_rows(
    codec: Codec, tenant_id: uuid.UUID, count: int, now: datetime, seed: int, offset: int
) -> Iterator[tuple[Any, ...]]:
    """`count` incidents of one tenant created evenly over SPAN before `now` (COLUMNS order)."""
    rng = random.Random(seed)
    step = SPAN / max(count, 1)
    tenant = codec.id(tenant_id)
    for i in range(count):
        created = now - SPAN + step * i
        yield _row(codec, rng, tenant, i, created, now, i < count // 10, offset + i)


def _delay(rng: random.Random, target: timedelta, median_share: float) -> timedelta:
    """Log-normal around `median_share` of `target` (a third or so land past it)."""
    return target * (median_share * math.exp(rng.gauss(0.0, 1.0)))


def _row(
    codec: Codec,
    rng: random.Random,
    tenant: Any,
    i: int,
    created: datetime,
    now: datetime,
    before_sla: bool,
    hash_index: int,
) -> tuple[Any, ...]:
    severity = rng.choices((1, 2, 3, 4), (20, 35, 30, 15))[0]
    respond_in, resolve_in = TARGETS[severity]
    responded = resolved = assignee = name = None
    if rng.random() < 0.72:
        responded = created + _delay(rng, respond_in, 0.6)
        if rng.random() < 0.7:
            resolved = responded + _delay(rng, resolve_in, 0.4)
    responded = responded if responded and responded <= now else None
    resolved = resolved if responded and resolved and resolved <= now else None
    if responded:
        assignee, name = ("SOAR", "SOAR") if rng.random() < 0.05 else rng.choice(ANALYSTS)
    status = "RESOLVED" if resolved else "UNDER_INVESTIGATION" if responded else "OPEN"
    due = (None, None) if before_sla else (created + respond_in, created + resolve_in)
    tactic = rng.choice(TACTICS) if rng.random() < 0.9 else None
    return (
        codec.id(uuid7(created, rng)), tenant, i + 1, incident_hash(hash_index, 0x3E7),
        f"incident {i}", "", severity, assignee, name, status,
        "TRUE_POSITIVE" if resolved else None, None,
        rng.choices(METRICS_SOURCES, (30, 25, 15, 10, 10, 10))[0], tactic, None,
        codec.flag(True), codec.flag(rng.random() < 0.02), codec.ts(responded),
        codec.ts(resolved), "[]", None, "NOT_PROCESSED", None, None, None, 1, codec.ts(created),
        codec.ts(created), codec.ts(due[0]), codec.ts(due[1]), 0, None, 1, codec.ts(created),
        codec.ts(resolved or responded or created),
    )  # fmt: skip


def seed(db: Database, tenants: list[tuple[str, int]], now: datetime) -> dict[str, float]:
    """Bulk-load the tenants' incidents; returns the seconds spent loading and indexing."""
    codec = Codec(db.kind)
    conn = db.connect()
    indexes = secondary_indexes(conn, db.kind, "incidents")
    start = time.perf_counter()
    drop_indexes(conn, indexes)
    if db.kind == "sqlite":
        conn.execute("BEGIN")
    offset = 0
    for n, (tenant, count) in enumerate(tenants):
        rows = incident_rows(codec, uuid.UUID(tenant), count, now, 200 + n, offset)
        insert_rows(conn, db.kind, "incidents", COLUMNS, rows)
        offset += count
    conn.execute("COMMIT") if db.kind == "sqlite" else conn.commit()
    loaded = time.perf_counter() - start
    create_indexes(conn, indexes)
    conn.execute("ANALYZE" if db.kind == "sqlite" else "ANALYZE incidents")
    if db.kind == "postgresql":
        conn.commit()
    conn.close()
    return {"insert_s": round(loaded, 1), "index_s": round(time.perf_counter() - start - loaded, 1)}


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """Milliseconds of each of `runs` calls after one untimed warm-up call."""
    fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(db: Database, tenant: str, now: datetime, runs: int) -> dict[str, Any]:
    """Each query through the service, then the ceiling; milliseconds."""
    engine = create_db_engine(Settings(database_url=db.url))
    tenant_id = uuid.UUID(tenant)
    window = {"t": tenant_id, "a": now - timedelta(days=30), "b": now}
    ceiling_sql = text(CEILING[db.kind]).bindparams(
        bindparam("t", type_=Uuid()),
        bindparam("a", type_=UTCDateTime()),
        bindparam("b", type_=UTCDateTime()),
    )

    def ceiling() -> None:
        with unit_of_work(engine, TenantContext(tenant_id)) as session:
            session.execute(ceiling_sql, window).all()

    out: dict[str, Any] = {}
    for label, group_by, period, scope in QUERIES:
        query = metrics_query(now=now, group_by=group_by, period=period, scope=scope)
        ctx = SystemContext() if scope == "all" else TenantContext(tenant_id)
        groups: list[int] = []

        def run(query: Any = query, ctx: Any = ctx, groups: list[int] = groups) -> None:
            with unit_of_work(engine, ctx) as session:
                groups[:] = [len(incident_metrics(session, query, now).groups)]

        samples, ceilings = timed(run, runs), timed(ceiling, runs)
        measured, floor = statistics.median(samples), statistics.median(ceilings)
        out[label] = {
            "ms": spread(samples),
            "ceiling_ms": spread(ceilings),
            "ratio_to_ceiling": round(measured / floor, 2),
            "groups": groups[0],
        }
        log(f"{db.kind}: {label}: {measured:.0f} ms (ceiling {floor:.0f} ms)")
    engine.dispose()
    return out


def over_http(db: Database, key: str, wd: Any, runs: int) -> dict[str, Any]:
    """The default query over HTTP (`muster serve`, embedded worker), milliseconds."""
    path = "/api/v1/metrics/incidents?groupBy=severity"
    with Server(db, wd) as server:
        client = HttpClient(server.port, key)

        def once() -> None:
            status, body = client.get(path)
            assert status == 200, (status, body[:300])

        samples = timed(once, runs)
        client.close()
    return {"path": path, "ms": spread(samples)}


def bench_one(kind: str, count: int, others: int, runs: int) -> dict[str, Any]:
    """Seed, then measure on one database kind."""
    with workdir("metrics") as wd:
        db = fresh_database(kind, "metrics_query", wd)
        try:
            tenant, key = create_tenant(db, "bench-metrics")
            other = [create_tenant(db, f"bench-metrics-other-{i}")[0] for i in range(2)]
            now = datetime.now(UTC)
            log(f"{kind}: seeding {fmt(count)} + 2 x {fmt(others)} incidents")
            timings = seed(db, [(tenant, count)] + [(t, others) for t in other], now)
            log(f"{kind}: seeded in {timings}")
            queries = measure(db, tenant, now, runs)
            http = over_http(db, key, wd, runs)
        finally:
            drop_database(db)
    targets = [queries[label] for label, *_ in QUERIES[:2]]
    return {
        "incidents": {"measured_tenant": count, "other_tenants": [others, others]},
        "seed_seconds": timings,
        "queries": queries,
        "http_default_query": http,
        "target_ms": TARGET_MS,
        "target_met": all(q["ms"]["median"] < TARGET_MS for q in targets),
    }


def main() -> int:
    """Run the benchmark and write bench/results/metrics_query[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 incidents, fewer runs")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=0, help="timed runs per query")
    args = parser.parse_args()
    count, others, runs = (100_000, 10_000, 5) if args.quick else (1_000_000, 50_000, 9)
    runs = args.runs or runs
    results = per_backend(args.db, lambda kind: bench_one(kind, count, others, runs))
    rows = []
    for kind, r in results.items():
        if "skipped" in r:
            rows.append([kind, "skipped", "", "", "", ""])
            continue
        for label, q in r["queries"].items():
            s = q["ms"]
            rows.append(
                [kind, label, f"{s['median']:.0f}", f"{s['min']:.0f}-{s['max']:.0f}",
                 f"{q['ceiling_ms']['median']:.0f}", f"{q['ratio_to_ceiling']}x"]
            )  # fmt: skip
        rows.append([kind, "HTTP: " + r["http_default_query"]["path"],
                     f"{r['http_default_query']['ms']['median']:.0f}", "", "", ""])  # fmt: skip
    print(f"\nmetrics queries at {fmt(count)} incidents in one tenant (last 30 days), ms")
    print(table(["db", "query", "median", "min-max", "ceiling", "ratio"], rows))
    print(f"target: the first two under {TARGET_MS:.0f} ms on each database")
    write_results(
        "metrics_query",
        args.quick,
        {
            "params": {"incidents": count, "other_tenant_incidents": others, "runs": runs},
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
