"""`GET /api/v1/incidents?status=OPEN&limit=50` at 1,000,000 incidents in one tenant.

Per database: a fresh database, three tenants created through the CLI, then 1,000,000
incidents for the measured tenant and 50,000 for each of two others, loaded by raw bulk
insert (sqlite3 executemany / PostgreSQL COPY) with the secondary indexes dropped and then
recreated from their own DDL, and the tenants' `incident_seq` set to match. Then one server:
latency of sequential requests (first page, and cursor pages 2-5 following `nextCursor`)
interleaved with the ceiling `GET /health`, plus a concurrent run with wrk. The SQL the
server runs is captured from a second server started with MUSTER_DATABASE_ECHO=true and
EXPLAINed to show that `ix_incidents_tenant_status_created` serves it.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from harness import (
    SQL,
    WRK_DONE,
    Database,
    HttpClient,
    Server,
    capture_sql,
    create_tenant,
    drop_database,
    ensure_wrk,
    explain,
    fmt,
    fresh_database,
    log,
    per_backend,
    percentile,
    run_wrk,
    spread,
    table,
    workdir,
    write_results,
)
from workload import (
    INCIDENT_COLUMNS,
    Codec,
    create_indexes,
    drop_indexes,
    incident_rows,
    insert_rows,
    secondary_indexes,
)

INDEX = "ix_incidents_tenant_status_created"
TARGET_P99_MS = 20.0
FIRST = "/api/v1/incidents?status=OPEN&limit=50"

PATHS_LUA = r"""
local paths = {}
local i = 0
function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  for n = 2, #args do paths[#paths + 1] = args[n] end
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def seed(db: Database, tenants: list[tuple[str, int]]) -> dict[str, float]:
    """Bulk-load incidents for (tenant id, count) pairs; returns timings in seconds."""
    codec = Codec(db.kind)
    now = datetime.now(UTC)
    conn = db.connect()
    timings: dict[str, float] = {}
    indexes = secondary_indexes(conn, db.kind, "incidents")
    start = time.perf_counter()
    drop_indexes(conn, indexes)
    if db.kind == "sqlite":
        conn.execute("BEGIN")
    offset = 0
    for n, (tenant, count) in enumerate(tenants):
        rows = incident_rows(
            codec,
            uuid.UUID(tenant),
            count,
            now,
            timedelta(days=365),
            seed=100 + n,
            hash_offset=offset,
        )
        insert_rows(conn, db.kind, "incidents", INCIDENT_COLUMNS, rows)
        offset += count
        ph = "?" if db.kind == "sqlite" else "%s"
        conn.execute(
            f"UPDATE tenants SET incident_seq = {ph} WHERE id = {ph}",
            (count, codec.id(uuid.UUID(tenant))),
        )
    conn.execute("COMMIT") if db.kind == "sqlite" else conn.commit()
    timings["insert_s"] = time.perf_counter() - start
    start = time.perf_counter()
    create_indexes(conn, indexes)
    if db.kind == "postgresql":
        conn.execute("ANALYZE incidents")
        conn.commit()
    timings["index_s"] = time.perf_counter() - start
    conn.close()
    return {k: round(v, 1) for k, v in timings.items()}


def page_paths(client: HttpClient, pages: int) -> list[str]:
    """The first page and the cursor pages after it, following `nextCursor`."""
    paths = [FIRST]
    for _ in range(pages - 1):
        status, body = client.get(paths[-1])
        assert status == 200, (status, body[:300])
        answer = orjson.loads(body)
        assert len(answer["items"]) == 50
        assert all(item["status"] == "OPEN" for item in answer["items"])
        paths.append(f"{FIRST}&cursor={answer['nextCursor']}")
    return paths


def sequential(
    server: Server, client: HttpClient, paths: list[str], count: int, blocks: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latency (ms) of `count` sequential requests each to /health, the first page and the
    cursor pages, interleaved in `blocks` blocks so noise hits all three alike; and the
    server's CPU µs per request of each kind."""
    out: dict[str, list[float]] = {"health": [], "first_page": [], "cursor_pages": []}
    cpu = dict.fromkeys(out, 0.0)
    per_block = max(1, count // blocks)
    for _ in range(blocks):
        for name in out:
            cpu0 = server.cpu_seconds()
            for i in range(per_block):
                path = (
                    "/health"
                    if name == "health"
                    else paths[0]
                    if name == "first_page"
                    else paths[1 + i % (len(paths) - 1)]
                )
                t0 = time.perf_counter()
                status, _ = client.get(path)
                out[name].append((time.perf_counter() - t0) * 1000)
                assert status == 200, status
            cpu[name] += server.cpu_seconds() - cpu0
    return out, {name: round(cpu[name] * 1e6 / len(out[name]), 1) for name in out}


def capture_pages_sql(db: Database, wd: Path, key: str, paths: list[str]) -> list[SQL]:
    """The SQL of the first and a cursor page, captured from a server with SQL echo."""

    def load(client: HttpClient) -> None:
        for path in paths[:2]:
            client.get(path)

    return capture_sql(
        db, wd, key, load, lambda sql: "FROM incidents" in sql and "ORDER BY" in sql
    )[-2:]


def explain_pages(db: Database, queries: list[SQL]) -> list[dict[str, Any]]:
    """The plans of the captured page queries, and whether they use the index."""
    out = []
    for label, query in zip(("first page", "cursor page"), queries, strict=False):
        plan = explain(db, query)
        out.append(
            {
                "query": label,
                "sql": " ".join(query.sql.split()),
                "plan": plan,
                "uses_index": any(INDEX in line for line in plan),
            }
        )
    return out


def bench_one(kind: str, count: int, others: int, requests: int, seconds: int) -> dict[str, Any]:
    """Seed, measure and explain on one database kind."""
    with workdir("list") as wd:
        db = fresh_database(kind, "list_incidents", wd)
        try:
            tenant, key = create_tenant(db, "bench-list")
            other = [create_tenant(db, f"bench-other-{i}")[0] for i in range(2)]
            log(f"{kind}: seeding {fmt(count)} + 2 x {fmt(others)} incidents")
            timings = seed(db, [(tenant, count)] + [(t, others) for t in other])
            log(f"{kind}: seeded in {timings}")
            with Server(db, wd) as server:
                client = HttpClient(server.port, key)
                paths = page_paths(client, 5)
                sequential(server, client, paths, 200, 1)  # warm-up
                lat, cpu_us = sequential(server, client, paths, requests, 10)
                client.close()
                conc = concurrent(server, key, paths, seconds)
            queries = capture_pages_sql(db, wd, key, paths)
            plans = explain_pages(db, queries)
        finally:
            drop_database(db)
    summary = {
        name: {
            "p50_ms": round(percentile(v, 50), 2),
            "p99_ms": round(percentile(v, 99), 2),
            "max_ms": round(max(v), 2),
            "requests": len(v),
            "server_cpu_us": cpu_us[name],
        }
        for name, v in lat.items()
    }
    worst = max(summary["first_page"]["p99_ms"], summary["cursor_pages"]["p99_ms"])
    return {
        "incidents": {"measured_tenant": count, "other_tenants": [others, others]},
        "seed_seconds": timings,
        "sequential": summary,
        "concurrent": conc,
        "ratio_p50_vs_health": round(
            summary["first_page"]["p50_ms"] / summary["health"]["p50_ms"], 2
        ),
        "plans": plans,
        "index_used": bool(plans) and all(p["uses_index"] for p in plans),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": worst < TARGET_P99_MS,
    }


def concurrent(server: Server, key: str, paths: list[str], seconds: int) -> dict[str, Any]:
    """wrk with 8 connections over the five pages, and over /health, alternately (x2)."""
    wrk = ensure_wrk()
    if wrk is None:
        return {"skipped": "wrk not available"}
    lua = server.logdir / "pages.lua"
    lua.write_text(PATHS_LUA + WRK_DONE)
    health_lua = server.logdir / "health.lua"
    health_lua.write_text(WRK_DONE)
    pages, health = [], []
    for _ in range(1 if seconds < 5 else 2):
        health.append(
            run_wrk(wrk, server.url + "/health", health_lua, connections=8, seconds=seconds)
        )
        pages.append(
            run_wrk(wrk, server.url, lua, connections=8, seconds=seconds, args=[key, *paths])
        )
    return {
        "connections": 8,
        "pages": {
            "rps": spread([r.rps for r in pages]),
            "p50_ms": spread([r.p50_ms for r in pages]),
            "p99_ms": spread([r.p99_ms for r in pages]),
            "errors": sum(r.errors for r in pages),
        },
        "health": {
            "rps": spread([r.rps for r in health]),
            "p50_ms": spread([r.p50_ms for r in health]),
            "p99_ms": spread([r.p99_ms for r in health]),
        },
    }


def main() -> int:
    """Run the benchmark and write bench/results/list_incidents[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 incidents, fewer requests")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    count, others, requests, seconds = (
        (50_000, 10_000, 150, 2) if args.quick else (1_000_000, 50_000, 1_500, 5)
    )
    results = per_backend(args.db, lambda kind: bench_one(kind, count, others, requests, seconds))
    rows = []
    for kind, r in results.items():
        if "skipped" in r:
            rows.append([kind, "skipped"] + [""] * 6)
            continue
        s = r["sequential"]
        rows.append(
            [
                kind,
                f"< {TARGET_P99_MS:.0f}",
                s["first_page"]["p50_ms"],
                s["first_page"]["p99_ms"],
                s["cursor_pages"]["p50_ms"],
                s["cursor_pages"]["p99_ms"],
                s["health"]["p50_ms"],
                s["health"]["p99_ms"],
            ]
        )
    print(f"\nGET {FIRST} at {fmt(count)} incidents, sequential requests, ms")
    print(
        table(
            [
                "db",
                "target p99",
                "page 1 p50",
                "page 1 p99",
                "cursor p50",
                "cursor p99",
                "/health p50",
                "/health p99",
            ],
            rows,
        )
    )
    for kind, r in results.items():
        for plan in r.get("plans", []):
            print(f"\n{kind} {plan['query']} plan (uses {INDEX}: {plan['uses_index']}):")
            print("\n".join("  " + line for line in plan["plan"]))
    write_results(
        "list_incidents",
        args.quick,
        {
            "params": {
                "incidents": count,
                "other_tenants": 2,
                "other_tenant_incidents": others,
                "sequential_requests_each": requests,
                "concurrent_seconds": seconds,
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
