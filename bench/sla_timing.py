"""How late `sla.breached` is raised after the due time, through a real `muster serve`.

Per database: a fresh database, one tenant whose policy gives HIGH incidents a 3 s response
and a 6 s resolution target, one `muster serve` (its embedded worker runs the SLA scan every
`sla_scan_seconds`: the default 1 s, and 0.25 s). INCIDENTS alerts are ingested in small
batches spread over about a second (so due times fall at every phase of the scan), each alert
opening its own HIGH incident. Once every target is past due, the `sla.breached` timeline
rows are read from the database: lateness = the row's `created_at` (the scan's `now`) minus
the `dueAt` it names. Also checked: exactly one event per incident, target and kind.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from harness import (
    HttpClient,
    Server,
    cli_json,
    create_tenant,
    drop_database,
    fresh_database,
    log,
    median,
    per_backend,
    percentile,
    table,
    workdir,
    write_results,
)

INCIDENTS = 200
BATCHES = 20
POLICY = {"atRiskFraction": 0.5, "targets": {"HIGH": {"response": "3s", "resolution": "6s"}}}
RESOLUTION_S = 6.0


def _stamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _events(db: Any, tenant_id: str) -> list[tuple[str, str, str, datetime, datetime]]:
    """(incident, action, target, raised at, due at) of the tenant's SLA timeline rows."""
    conn = db.connect()
    try:
        placeholder = "?" if db.kind == "sqlite" else "%s"
        tenant = uuid.UUID(tenant_id).hex if db.kind == "sqlite" else tenant_id
        rows = conn.execute(
            "SELECT subject_id, action, changes, created_at FROM audit_events "
            f"WHERE tenant_id = {placeholder} AND action IN ('sla.at_risk', 'sla.breached')",
            (tenant,),
        ).fetchall()
    finally:
        conn.close()
    out = []
    for subject, action, changes, created in rows:
        data = json.loads(changes) if isinstance(changes, str) else changes
        out.append((str(subject), action, data["target"], _stamp(created), _stamp(data["dueAt"])))
    return out


def run(kind: str, scan_seconds: float, incidents: int) -> dict[str, Any]:
    """One server with `sla_scan_seconds=scan_seconds`; lateness of every breach."""
    with workdir("sla") as tmp:
        db = fresh_database(kind, f"sla_{uuid.uuid4().hex[:8]}", tmp)
        try:
            tenant_id, key = create_tenant(db, "sla-bench")
            admin = cli_json(
                db, "apikey", "create", "--tenant", tenant_id, "--role", "tenant_admin"
            )
            env = {"MUSTER_SLA_SCAN_SECONDS": str(scan_seconds)}
            with Server(db, tmp, extra_env=env) as server:
                http = HttpClient(server.port, admin["key"])
                status, body = http.request("PUT", "/api/v1/sla/policy", orjson.dumps(POLICY))
                assert status == 200, body
                http = HttpClient(server.port, key)
                per_batch = incidents // BATCHES
                for b in range(BATCHES):
                    alerts = [
                        {
                            "ruleName": "SLA timing",
                            "source": "bench",
                            "severity": 4,
                            "hostname": f"host-{b}-{n}-{uuid.uuid4().hex[:6]}",
                        }
                        for n in range(per_batch)
                    ]
                    http.ingest(orjson.dumps({"alerts": alerts}))
                    time.sleep(1.0 / BATCHES * 1.37)  # not a divisor of the scan interval
                time.sleep(RESOLUTION_S + scan_seconds + 2.0)
                events = _events(db, tenant_id)
        finally:
            drop_database(db)
    counts = Counter((i, a, t) for i, a, t, _, _ in events)
    assert set(counts.values()) == {1}, "an SLA event was raised twice"
    assert len(counts) == 4 * incidents, f"{len(counts)} events for {incidents} incidents"
    late = [(at - due).total_seconds() for _, a, _, at, due in events if a == "sla.breached"]
    return {
        "scan_seconds": scan_seconds,
        "breaches": len(late),
        "late_median_s": round(median(late), 3),
        "late_p90_s": round(percentile(late, 90), 3),
        "late_max_s": round(max(late), 3),
        "late_min_s": round(min(late), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 incidents, default interval only")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    incidents = 60 if args.quick else INCIDENTS
    intervals = [1.0] if args.quick else [1.0, 0.25]

    def bench(kind: str) -> dict[str, Any]:
        runs = []
        for seconds in intervals:
            log(f"{kind}: {incidents} incidents, scan every {seconds}s")
            runs.append(run(kind, seconds, incidents))
        return {"runs": runs}

    results = per_backend(args.db, bench)
    rows = [
        [
            kind,
            r["scan_seconds"],
            r["breaches"],
            r["late_median_s"],
            r["late_p90_s"],
            r["late_max_s"],
        ]
        for kind, data in results.items()
        for r in data.get("runs", [])
    ]
    print(table(["db", "scan s", "breaches", "median late s", "p90 late s", "max late s"], rows))
    write_results("sla_timing", args.quick, {"incidents": incidents, "results": results})


if __name__ == "__main__":
    sys.exit(main())
