"""Filter language bench: parse + compile, Python evaluation, and filtered lists in SQL.

    .venv/bin/python bench/query_bench.py [--incidents 1000000] [--alerts 100000] [--pg URL]

1. Parse + compile (both back ends' front half: parse, bind, closures) of a 20-clause
   expression: median and p99 of many runs (target < 1 ms).
2. Python evaluation of a 5-clause criteria expression over generated alerts (target
   >= 100,000 alerts/s).
3. SQL: `GET /incidents`'s statement with `filter=status = "OPEN"` / `severity >= 3` at
   --incidents rows in one tenant (the index serves it), and an alert list filtered on
   `raw.process.name` at --alerts rows (a scan): median / p99 over repeated first pages.
Rows are bulk inserted with Core into a fresh migrated database (SQLite file in a temp dir,
or a fresh PostgreSQL schema with --pg).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, text

from muster.alerts.service import AlertFilter, list_alerts
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import create_db_engine
from muster.db.migrate import upgrade
from muster.incidents.listing import IncidentFilter, list_incidents
from muster.models import Alert, Incident, Tenant
from muster.query import Subject, compile_predicate, parse
from muster.query.sql import to_sql
from muster.runtime import tune_garbage_collector

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CLAUSES_20 = " and ".join(
    [
        "severity >= 2",
        'hostname contains "ws"',
        'source in ("Defender", "CrowdStrike", "SentinelOne")',
        'srcIp incidr "10.0.0.0/8"',
        "createdAt > -24h",
        'raw.process.name = "cmd.exe"',
        'tags = "lateral"',
        'entity.host = "ws-1"',
        'not username = "svc"',
        'mitreTactic != "Discovery"',
        'ruleName matches "^Susp"',
        "destPort in (443, 80, 8443)",
        "(severity = 4 or hostname exists)",
        'category not contains "test"',
        "srcPort > 1024",
        'destIp not incidr "192.168.0.0/16"',
        'initiatorCmd contains "powershell"',
        "occurrences >= 1",
        'rawEventDataset = "edr"',
        'action = "Detected"',
    ]
)
CLAUSES_5 = (
    'severity >= 3 and hostname contains "ws" and source in ("Defender", "CrowdStrike")'
    ' and srcIp incidr "10.0.0.0/8" and not mitreTactic = "Discovery"'
)

# every clause is evaluated for nearly every alert (no early exit): the worst case
CLAUSES_5_FULL = (
    "severity >= 0 and source exists and createdAt > -30d and raw.process.name exists"
    ' and hostname contains "ws"'
)


WARM_UP = 3  # calls before timing: the first one reads the index pages from disk


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    """Wall time of each of `runs` calls after `WARM_UP` untimed ones, in milliseconds."""
    for _ in range(WARM_UP):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(samples: list[float]) -> str:
    """median / p99 in ms."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.3f} ms, p99 {p99:.3f} ms (n={len(ordered)})"


def bench_compile() -> None:
    """Parse + bind + compile the 20-clause expression, uncached."""

    def once() -> None:
        compile_predicate(parse(CLAUSES_20), Subject.ALERT, NOW)

    once()
    print("parse+compile, 20 clauses:", summary(timed(once, 2000)))
    sql = timed(lambda: to_sql(parse(CLAUSES_20), Subject.ALERT, "sqlite", NOW), 500)
    print("parse+to_sql, 20 clauses: ", summary(sql))


def make_alert(rng: random.Random) -> dict[str, Any]:
    """A plausible alert in API names with a raw payload."""
    return {
        "severity": rng.randint(0, 4),
        "hostname": rng.choice(["ws-1", "ws-22", "db-3", None]),
        "source": rng.choice(["Defender", "CrowdStrike", "Okta"]),
        "srcIp": rng.choice(["10.1.2.3", "192.168.4.5", "2001:db8::1", None]),
        "mitreTactic": rng.choice(["Execution", "Discovery", None]),
        "tags": ["a"],
        "entities": [],
        "raw": {"process": {"name": rng.choice(["cmd.exe", "bash"])}},
        "createdAt": NOW - timedelta(minutes=rng.randint(0, 5000)),
    }


def bench_eval(count: int = 200_000) -> None:
    """Alerts per second through compiled 5-clause predicates (typical and worst case)."""
    rng = random.Random(7)
    items = [make_alert(rng) for _ in range(count)]
    for label, expression in (("typical", CLAUSES_5), ("all clauses run", CLAUSES_5_FULL)):
        predicate = compile_predicate(parse(expression), Subject.ALERT, NOW)
        best = 0.0
        for _ in range(5):
            start = time.perf_counter()
            hits = sum(1 for item in items if predicate(item))
            best = max(best, count / (time.perf_counter() - start))
        print(
            f"evaluation, 5 clauses ({label}): {best:,.0f} alerts/s"
            f" (best of 5; {hits} of {count} match)"
        )


def load(url: str, incidents: int, alerts: int) -> uuid.UUID:
    """A migrated database with one tenant holding `incidents` incidents and `alerts` alerts."""
    upgrade(Settings(database_url=url))
    engine = create_engine(url)
    tenant_id, rng = uuid.uuid4(), random.Random(3)
    with engine.begin() as conn:
        conn.execute(
            insert(Tenant),
            [
                {
                    "id": tenant_id,
                    "name": f"bench-{tenant_id.hex[:6]}",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
        for start in range(0, incidents, 20_000):
            rows = [
                _incident(tenant_id, n, rng) for n in range(start, min(incidents, start + 20_000))
            ]
            conn.execute(insert(Incident), rows)
        for start in range(0, alerts, 20_000):
            rows = [_alert_row(tenant_id, rng) for _ in range(start, min(alerts, start + 20_000))]
            conn.execute(insert(Alert), rows)
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE incidents"))
            conn.execute(text("ANALYZE alerts"))
    engine.dispose()
    return tenant_id


def _incident(tenant_id: uuid.UUID, n: int, rng: random.Random) -> dict[str, Any]:
    at = NOW - timedelta(seconds=n * 7)
    return {
        "id": uuid.uuid4(), "tenant_id": tenant_id, "number": n + 1,
        "incident_hash": uuid.uuid4().hex[:16], "description": f"incident {n}",
        "severity": rng.randint(1, 4),
        "status": rng.choices(["OPEN", "UNDER_INVESTIGATION", "RESOLVED"], [1, 1, 8])[0],
        "source": "bench", "created_at": at, "updated_at": at, "tags": [],
    }  # fmt: skip


def _alert_row(tenant_id: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    at = NOW - timedelta(seconds=rng.randint(0, 10**7))
    name = rng.choice(["cmd.exe", "bash", "powershell.exe", "svchost.exe"])
    return {
        "id": uuid.uuid4(), "tenant_id": tenant_id, "dedup_key": uuid.uuid4().hex,
        "rule_name": "bench", "source": "bench", "severity": rng.randint(0, 4),
        "created_at": at, "updated_at": at, "last_seen_at": at, "tags": [], "entities": [],
        "raw": {"process": {"name": name, "pid": rng.randint(1, 99999)}, "pad": "x" * 200},
    }  # fmt: skip


def bench_sql(url: str, incidents: int, alerts: int, runs: int) -> None:
    """First-page latency of filtered lists (what the endpoints run, without HTTP)."""
    tenant_id = load(url, incidents, alerts)
    db = create_db_engine(Settings(database_url=url))
    cases: list[tuple[str, Callable[[Any], Any]]] = [
        ('incidents filter=status = "OPEN"', lambda s: list_incidents(
            s, IncidentFilter(filter='status = "OPEN"'), "-createdAt", 50, None)),
        ("incidents filter=severity = 4", lambda s: list_incidents(
            s, IncidentFilter(filter="severity = 4"), "-createdAt", 50, None)),
        ("incidents filter=severity >= 3", lambda s: list_incidents(
            s, IncidentFilter(filter="severity >= 3"), "-createdAt", 50, None)),
        ("incidents filter=severity >= 3 (sort=-severity)", lambda s: list_incidents(
            s, IncidentFilter(filter="severity >= 3"), "-severity", 50, None)),
        ('incidents filter=status = "OPEN" and severity >= 3', lambda s: list_incidents(
            s, IncidentFilter(filter='status = "OPEN" and severity >= 3'), "-createdAt", 50,
            None)),
        ('alerts filter=raw.process.name = "cmd.exe"', lambda s: list_alerts(
            s, AlertFilter(filter='raw.process.name = "cmd.exe"'), 50, None)),
        ('alerts filter=raw.process.name = "none" (no match: full scan)', lambda s: list_alerts(
            s, AlertFilter(filter='raw.process.name = "none"'), 50, None)),
    ]  # fmt: skip
    print(f"{db.dialect}: {incidents:,} incidents, {alerts:,} alerts in one tenant")
    tune_garbage_collector(Settings().gc_young_collection_every)  # as `muster serve` does
    for name, run in cases:

        def once(run: Callable[[Any], Any] = run) -> None:
            with unit_of_work(db, TenantContext(tenant_id)) as session:
                run(session)

        once()
        print(f"  {name}: {summary(timed(once, runs))}")
    db.dispose()


def main() -> None:
    """Run the benches and print their figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pg", help="PostgreSQL URL (a fresh schema `query_bench` is used)")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    bench_compile()
    bench_eval()
    if args.skip_sql:
        return
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            bench_sql(f"sqlite:///{tmp}/bench.db", args.incidents, args.alerts, args.runs)
    if args.pg:
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS query_bench CASCADE"))
            conn.execute(text("CREATE SCHEMA query_bench"))
        sep = "&" if "?" in args.pg else "?"
        bench_sql(f"{args.pg}{sep}options=-csearch_path%3Dquery_bench", args.incidents,
                  args.alerts, args.runs)  # fmt: skip
        with admin.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS query_bench CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
