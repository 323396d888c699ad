"""Cost per alert of batched ingest as stored alerts grow: 10k, 100k, 1M (it should be flat).

One tenant receives 10,000 alerts a day. At each size the history is back-filled by raw bulk
insert (sqlite3 executemany / PostgreSQL COPY, secondary indexes dropped and recreated):
alerts with their incidents, grouped the way the default "same detection on the same host"
rule groups them (same grouping key digest, 24 h window, 500 alerts max), older incidents
mostly RESOLVED. The most recent 24 h are seeded first, so every size has the same live
window and only the history grows. Then a fresh server ingests a fixed number of 1,000-alert
batches (event times in the last 5 minutes; many join seeded incidents) and we record wall
and server-CPU microseconds per alert, next to the ceiling: raw executemany of 1,000-row
batches into the same, growing `alerts` table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from harness import (
    Database,
    HttpClient,
    Server,
    capture_sql,
    create_tenant,
    drop_database,
    explain,
    fmt,
    fresh_database,
    log,
    median,
    per_backend,
    table,
    workdir,
    write_results,
)
from muster.grouping.decision import Rule, grouping_key
from workload import (
    ALERT_COLUMNS,
    INCIDENT_COLUMNS,
    RULES,
    AlertFactory,
    Codec,
    alert_row,
    create_indexes,
    drop_indexes,
    grouping_reason,
    incident_hash,
    insert_rows,
    raw_insert_batches,
    secondary_indexes,
    sla_columns,
    uuid7,
)

PER_DAY = 10_000
RULE_INDEX = {rule.name: i for i, rule in enumerate(RULES)}
BATCH = 1_000


@dataclass
class _Incident:
    id: uuid.UUID
    number: int
    key: str
    rule_index: int
    host: str
    first: datetime
    last: datetime
    status: str
    severity: int = 1
    count: int = 0
    details: str = ""


@dataclass
class Seeder:
    """Loads a tenant's history: the newest day (identical for every size), then older days."""

    db: Database
    tenant: uuid.UUID
    now: datetime
    next_number: int = 1

    def rule(self) -> Rule:
        """The tenant's first grouping rule (same detection on the same host)."""
        conn = self.db.connect()
        ph = "?" if self.db.kind == "sqlite" else "%s"
        row = conn.execute(
            "SELECT id, name, key_fields, window_seconds, max_alerts FROM grouping_rules "
            f"WHERE tenant_id = {ph} ORDER BY position LIMIT 1",
            (Codec(self.db.kind).id(self.tenant),),
        ).fetchone()
        conn.close()
        fields = row[2] if isinstance(row[2], list) else orjson.loads(row[2])
        assert fields == ["source", "ruleName", "hostname"], fields
        return Rule(
            str(uuid.UUID(str(row[0]))), row[1], tuple(fields), timedelta(seconds=row[3]), row[4]
        )

    def load(self, size: int) -> dict[str, float]:
        """Bulk-load `size` alerts (PER_DAY a day up to `now`) with their incidents."""
        day = timedelta(days=1)
        segments = [(self.now - day, self.now, min(size, PER_DAY), 1)]
        if size > PER_DAY:
            oldest = self.now - timedelta(days=size / PER_DAY)
            segments.append((oldest, self.now - day, size - PER_DAY, 2))
        rule = self.rule()
        codec = Codec(self.db.kind)
        incidents: list[_Incident] = []
        rows = (
            row
            for oldest, newest, count, seed in segments
            for row in self._segment(rule, codec, oldest, newest, count, seed, incidents)
        )
        conn = self.db.connect()
        start = time.perf_counter()
        alert_ix = secondary_indexes(conn, self.db.kind, "alerts")
        incident_ix = secondary_indexes(conn, self.db.kind, "incidents")
        drop_indexes(conn, alert_ix + incident_ix)
        if self.db.kind == "sqlite":
            conn.execute("BEGIN")
        else:  # alerts reference incidents written after them: skip FK triggers for the load
            conn.execute("SET session_replication_role = replica")
        insert_rows(conn, self.db.kind, "alerts", ALERT_COLUMNS, rows)
        incident_rows = (self._incident_row(codec, inc) for inc in incidents)
        insert_rows(conn, self.db.kind, "incidents", INCIDENT_COLUMNS, incident_rows)
        ph = "?" if self.db.kind == "sqlite" else "%s"
        conn.execute(
            f"UPDATE tenants SET incident_seq = {ph} WHERE id = {ph}",
            (self.next_number - 1, codec.id(self.tenant)),
        )
        conn.execute("COMMIT") if self.db.kind == "sqlite" else conn.commit()
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        create_indexes(conn, alert_ix + incident_ix)
        if self.db.kind == "postgresql":
            conn.execute("ANALYZE alerts")
            conn.execute("ANALYZE incidents")
            conn.commit()
        conn.close()
        return {
            "insert_s": round(loaded, 1),
            "index_s": round(time.perf_counter() - start, 1),
            "incidents": len(incidents),
        }

    def _segment(
        self,
        rule: Rule,
        codec: Codec,
        oldest: datetime,
        newest: datetime,
        count: int,
        seed: int,
        incidents: list[_Incident],
    ) -> Iterator[tuple[Any, ...]]:
        """Alerts evenly spread over [oldest, newest), grouped like the default host rule."""
        factory = AlertFactory(seed=seed, prefix=f"seed{seed}")
        rng = random.Random(seed)
        keys: dict[tuple[int, str], str] = {}
        open_by_key: dict[str, _Incident] = {}
        step = (newest - oldest) / count
        for i in range(count):
            at = oldest + step * i
            picked = factory.pick()
            drule, host, _ = picked
            rule_index = RULE_INDEX[drule.name]
            key = keys.get((rule_index, host))
            if key is None:
                values = {"source": drule.source, "ruleName": drule.name, "hostname": host}
                key = keys[(rule_index, host)] = grouping_key(rule, values)
            inc = open_by_key.get(key)
            attached = (
                inc is not None
                and inc.status != "RESOLVED"
                and at - inc.first <= rule.window
                and inc.count < rule.max_alerts
            )
            if inc is None or not attached:
                roll = rng.random()
                old = self.now - at > timedelta(days=2)
                status = (
                    "RESOLVED"
                    if old and roll < 0.85
                    else "UNDER_INVESTIGATION"
                    if roll < 0.9
                    else "OPEN"
                )
                inc = _Incident(
                    uuid7(at, rng), self.next_number, key, rule_index, host, at, at, status
                )
                self.next_number += 1
                incidents.append(inc)
                open_by_key[key] = inc
            payload = factory.payload(at, picked)
            inc.count += 1
            inc.last = at
            inc.severity = max(inc.severity, payload["severity"])
            inc.details = inc.details or payload["description"]
            reason = grouping_reason(rule.name, rule.id, drule, host, inc.number, attached)
            yield alert_row(
                codec,
                payload,
                alert_id=uuid7(at, rng),
                tenant_id=self.tenant,
                incident_id=inc.id,
                reason=reason,
                now=at,
                at=at,
            )

    def _incident_row(self, codec: Codec, inc: _Incident) -> tuple[Any, ...]:
        drule = RULES[inc.rule_index]
        resolved = inc.last + timedelta(hours=4) if inc.status == "RESOLVED" else None
        responded = inc.first + timedelta(minutes=30) if inc.status != "OPEN" else None
        return (
            codec.id(inc.id),
            codec.id(self.tenant),
            inc.number,
            incident_hash(inc.number, 0xC0FFEE),
            drule.name,
            inc.details,
            max(1, inc.severity),
            "analyst0@mssp.example" if responded else None,
            "Analyst 0" if responded else None,
            inc.status,
            "TRUE_POSITIVE" if resolved else None,
            None,  # resolution_reason
            None,  # resolution_comment
            drule.source,
            drule.tactic,
            drule.technique,
            codec.flag(True),
            codec.flag(False),
            codec.ts(responded),
            codec.ts(resolved),
            "[]",
            None,
            "NOT_PROCESSED",
            None,
            inc.key,
            "Same detection on the same host",
            inc.count,
            codec.ts(inc.first),
            codec.ts(inc.last),
            1 + (responded is not None) + (resolved is not None),
            codec.ts(inc.first),
            codec.ts(resolved or responded or inc.last),
            *sla_columns(codec, inc.first, max(1, inc.severity), responded, resolved, self.now),
        )


def stored_alerts(db: Database) -> int:
    """How many alerts the database holds."""
    conn = db.connect()
    count = int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])
    conn.close()
    return count


def measure(
    db: Database,
    wd: Any,
    key: str,
    tenant: uuid.UUID,
    factory: AlertFactory,
    batches: int,
    warmup: int,
) -> dict[str, Any]:
    """Ingest `batches` batches through a fresh server; ceiling afterwards."""
    wall, cpu, created = [], [], []
    with Server(db, wd) as server:
        client = HttpClient(server.port, key)
        for i in range(warmup + batches):
            body = orjson.dumps({"alerts": factory.batch(BATCH, datetime.now(UTC))})
            cpu0, t0 = server.cpu_seconds(), time.perf_counter()
            answer, _ = client.ingest(body)
            elapsed, used = time.perf_counter() - t0, server.cpu_seconds() - cpu0
            if i >= warmup:
                wall.append(elapsed * 1e6 / BATCH)
                cpu.append(used * 1e6 / BATCH)
                created.append(orjson.loads(answer)["incidentsCreated"])
        client.close()
    conn = db.connect()
    roof = raw_insert_batches(
        conn,
        db.kind,
        "alerts",
        [factory.batch(BATCH, datetime.now(UTC)) for _ in range(3)],
        tenant,
        random_incident=False,  # the real `alerts` table checks its foreign keys
    )
    conn.close()
    return {
        "us_per_alert": round(median(wall), 1),
        "cpu_us_per_alert": round(median(cpu), 1),
        "incidents_created_per_batch": round(median(created), 1),
        "ceiling_us_per_row": round(median(roof) * 1e6 / BATCH, 1),
    }


def candidate_scan(db: Database, seeder: Seeder, factory: AlertFactory) -> dict[str, Any]:
    """Incidents per grouping key for the keys of one more 1,000-alert batch: filed under the
    key at all (what an index bounded by the key alone visits), with the first alert inside the
    24 h window (what an index on (tenant, key, first_alert_at) visits), and of those still
    open (the candidates that matter). Read it next to the candidate query's plan."""
    rule = seeder.rule()
    codec = Codec(db.kind)
    keys = {
        grouping_key(
            rule, {"source": p["source"], "ruleName": p["ruleName"], "hostname": p["hostname"]}
        )
        for p in factory.batch(BATCH, datetime.now(UTC))
    }
    ph = "?" if db.kind == "sqlite" else "%s"
    marks = ", ".join([ph] * len(keys))
    base = f"SELECT count(*) FROM incidents WHERE tenant_id = {ph} AND grouping_key IN ({marks})"
    args = (codec.id(seeder.tenant), *keys)
    window = (*args, codec.ts(datetime.now(UTC) - rule.window))
    conn = db.connect()
    counts = {
        "history": conn.execute(base, args).fetchone()[0],
        "window": conn.execute(base + f" AND first_alert_at >= {ph}", window).fetchone()[0],
        "live": conn.execute(
            base + f" AND first_alert_at >= {ph} AND status <> 'RESOLVED'", window
        ).fetchone()[0],
    }
    conn.close()
    return {"keys": len(keys)} | {
        f"per_key_{name}": round(int(n) / len(keys), 2) for name, n in counts.items()
    }


def candidate_plan(db: Database, wd: Any, key: str, factory: AlertFactory) -> list[str]:
    """The plan of the server's own grouping-candidate query (captured from its SQL echo)."""

    def one_alert(client: HttpClient) -> None:
        client.post("/api/v1/alerts", orjson.dumps(factory.payload(datetime.now(UTC))))

    found = capture_sql(db, wd, key, one_alert, lambda sql: "grouping_key IN" in sql)
    return explain(db, found[-1]) if found else ["(candidate query not captured)"]


def bench_one(kind: str, sizes: list[int], batches: int, warmup: int) -> list[dict[str, Any]]:
    """The whole curve on one database kind: a fresh database per size, same workload."""
    points = []
    for size in sizes:
        with workdir("curve") as wd:
            db = fresh_database(kind, "ingest_curve", wd)
            try:
                tenant_id, key = create_tenant(db, "bench-curve")
                tenant = uuid.UUID(tenant_id)
                log(f"{kind}: loading {fmt(size)} alerts of history")
                seeder = Seeder(db, tenant, datetime.now(UTC))
                seeded = seeder.load(size)
                total = stored_alerts(db)
                log(f"{kind}: {fmt(total)} alerts stored ({seeded})")
                factory = AlertFactory(seed=99, prefix="curve")
                point = measure(db, wd, key, tenant, factory, batches, warmup)
                point["candidates"] = candidate_scan(db, seeder, factory)
                point["candidate_plan"] = candidate_plan(db, wd, key, factory)
                point.update(stored_alerts=total, seed=seeded)
                log(f"{kind}: {fmt(total)} stored -> {point}")
                points.append(point)
            finally:
                drop_database(db)
    return points


def main() -> int:
    """Run the benchmark and write bench/results/ingest_curve[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 50k only, fewer batches")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    sizes = [10_000, 50_000] if args.quick else [10_000, 100_000, 1_000_000]
    batches, warmup = (5, 2) if args.quick else (10, 3)
    results = per_backend(args.db, lambda kind: bench_one(kind, sizes, batches, warmup))
    for kind, points in results.items():
        if isinstance(points, dict):
            continue
        base = points[0]["us_per_alert"]
        print(
            f"\nIngest cost per alert vs stored alerts ({kind}, {batches} x {BATCH}-alert "
            "batches per point, medians)"
        )
        print(
            table(
                [
                    "stored alerts",
                    "µs/alert (wall)",
                    "vs first",
                    "server CPU µs/alert",
                    "new incidents/batch",
                    "ceiling µs/row (raw executemany)",
                    "incidents/key: all (in window, open)",
                ],
                [
                    [
                        fmt(p["stored_alerts"]),
                        p["us_per_alert"],
                        f"{p['us_per_alert'] / base:.2f}x",
                        p["cpu_us_per_alert"],
                        p["incidents_created_per_batch"],
                        p["ceiling_us_per_row"],
                        f"{p['candidates']['per_key_history']} "
                        f"({p['candidates']['per_key_window']}, {p['candidates']['per_key_live']})",
                    ]
                    for p in points
                ],
            )
        )
    name = "ingest_curve" if args.db == "sqlite" else f"ingest_curve-{args.db}"
    for kind, points in results.items():
        if isinstance(points, list) and points:
            print(
                f"\n{kind} plan of the grouping-candidate query at "
                f"{fmt(points[-1]['stored_alerts'])} alerts:"
            )
            print("\n".join("  " + line for line in points[-1]["candidate_plan"]))
    write_results(
        name,
        args.quick,
        {
            "params": {
                "sizes": sizes,
                "batches_per_point": batches,
                "warmup_batches": warmup,
                "batch_size": BATCH,
                "alerts_per_day": PER_DAY,
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
