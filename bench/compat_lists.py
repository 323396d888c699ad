"""The compatible APIs' incident lists and reads, next to the native list, on one server.

Per database: a fresh database, one tenant through the CLI, then --alerts alerts ingested over
HTTP in batches of 1,000 (2,000 hosts, two products, three rules: incidents of a few alerts
each, with hosts, users and addresses as entities). Then --rounds rounds of sequential
requests, interleaved so the machine's noise falls on all of them alike:

- ceiling: `GET /health` (no database) and the native queue `GET /api/v1/incidents?limit=50`;
- ContraForce beta `POST /api/beta/partners/incidents` (take 50), v2 `POST
  /api/v2/incidents/across-workspaces` (take 50), Sentinel `GET …/incidents?$top=50`:
  one page each, with the per-page facts (products, tactics, rules, comments, user ids);
- one incident: v2 `GET …/incidents/Sentinel/{id}?withDetails=true` (entities, alerts,
  evidence) and Sentinel `POST …/incidents/{id}/entities`.

Reports median and p99 per request and the ratio of each median to the native list's. On
PostgreSQL the seeded tables are analysed first, as autovacuum would within a minute.
Results: bench/results/compat_lists[-quick].json.

    .venv/bin/python bench/compat_lists.py [--quick] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import create_engine, text

from harness import (
    HttpClient,
    Server,
    cli_json,
    create_tenant,
    drop_database,
    fmt,
    fresh_database,
    log,
    per_backend,
    percentile,
    table,
    workdir,
    write_results,
)

BATCH = 1000
HOSTS = 2000
PRODUCTS = ("Wazuh", "Suricata")
RULES = ("sshd brute force", "ET SCAN Nmap", "Possible data exfiltration")
TACTICS = ("Credential Access", "Discovery", "Exfiltration")


def alerts(count: int, now: datetime) -> list[dict[str, Any]]:
    """`count` alerts over the last 20 hours: incidents of a few alerts per host and rule."""
    out = []
    for n in range(count):
        host = n % HOSTS
        rule = (n // HOSTS) % len(RULES)
        out.append(
            {
                "ruleName": RULES[rule],
                "source": PRODUCTS[(n // (HOSTS * len(RULES))) % 2],
                "externalId": f"bench-{n}",
                "severity": 1 + n % 4,
                "hostname": f"ws-{host:04d}.corp.example",
                "username": f"user{host % 500}@corp.example",
                "srcIp": f"10.{host // 250}.{host % 250}.7",
                "mitreTactic": TACTICS[rule],
                "createdAt": (now - timedelta(hours=20) + timedelta(seconds=n)).isoformat(),
            }
        )
    return out


class Caller(HttpClient):
    """An HttpClient with the headers one API wants."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        super().__init__(port)
        self.headers = headers


def bench(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seed one database and time every request over `args.rounds` interleaved rounds."""
    with workdir("compat") as tmp:
        db = fresh_database(kind, "compat", tmp)
        try:
            tenant, key = create_tenant(db, "compat")
            pair = cli_json(db, "apikey", "create", "--tenant", tenant, "--role", "analyst")
            basic = base64.b64encode(f"{pair['clientId']}:{pair['clientSecret']}".encode())
            with Server(db, tmp) as server:
                native = HttpClient(server.port, key)
                now = datetime.now(UTC)
                made = alerts(args.alerts, now)
                log(f"{kind}: ingesting {len(made)} alerts")
                for start in range(0, len(made), BATCH):
                    native.ingest(orjson.dumps({"alerts": made[start : start + BATCH]}))
                if kind == "postgresql":  # as autovacuum leaves them within a minute or so
                    analyse(db.url)
                return measure(server.port, tenant, key, basic.decode(), args.rounds)
        finally:
            drop_database(db)


def analyse(url: str) -> None:
    """Refresh PostgreSQL's planner statistics of the seeded tables (12,000 incidents stay
    under the statistics keeper's 20,000-row minimum, and autovacuum may not have come by)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE incidents; ANALYZE alerts"))
    engine.dispose()


def measure(port: int, tenant: str, key: str, basic: str, rounds: int) -> dict[str, Any]:
    """Median and p99 (ms) of each request, interleaved round by round."""
    native = HttpClient(port, key)
    beta = Caller(port, {"x-api-key": key})
    v2 = Caller(port, {"Authorization": f"Basic {basic}"})
    sentinel = HttpClient(port, key)
    arm = (
        f"/subscriptions/bench/resourceGroups/bench/providers/Microsoft.OperationalInsights"
        f"/workspaces/{tenant}/providers/Microsoft.SecurityInsights/incidents"
    )
    status, body = native.get("/api/v1/incidents?limit=1")
    assert status == 200, body
    incident = orjson.loads(body)["items"][0]["id"]
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    requests: dict[str, tuple[HttpClient, str, str, bytes | None]] = {
        "health (ceiling)": (native, "GET", "/health", None),
        "native list (ceiling)": (native, "GET", "/api/v1/incidents?limit=50", None),
        "beta POST /incidents": (
            beta,
            "POST",
            f"/api/beta/partners/incidents?tenantId={tenant}",
            orjson.dumps({"take": 50, "startDate": since}),
        ),
        "v2 across-workspaces": (
            v2,
            "POST",
            "/api/v2/incidents/across-workspaces",
            orjson.dumps({"take": 50}),
        ),
        "sentinel list": (sentinel, "GET", f"{arm}?api-version=2024-03-01&$top=50", None),
        "v2 incident withDetails": (
            v2,
            "GET",
            f"/api/v2/workspaces/{tenant}/incidents/Sentinel/{incident}?withDetails=true",
            None,
        ),
        "sentinel entities": (
            sentinel,
            "POST",
            f"{arm}/{incident}/entities?api-version=2024-03-01",
            b"",
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in requests}
    for _ in range(rounds):
        for name, (client, method, path, body) in requests.items():
            started = time.perf_counter()
            status, answer = client.request(method, path, body)
            times[name].append((time.perf_counter() - started) * 1000)
            assert status == 200, (name, status, answer[:300])
    base = percentile(times["native list (ceiling)"], 50)
    return {
        name: {
            "median_ms": percentile(values, 50),
            "p99_ms": percentile(values, 99),
            "ratio_to_native_list": percentile(values, 50) / base,
        }
        for name, values in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 alerts, 50 rounds")
    parser.add_argument("--db", default="both", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--alerts", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.rounds = 3000, 50
    results = per_backend(args.db, lambda kind: bench(kind, args))
    rows = [
        [kind, name, fmt(r["median_ms"], 2), fmt(r["p99_ms"], 2), fmt(r["ratio_to_native_list"], 2)]
        for kind, found in results.items()
        if "skipped" not in found
        for name, r in found.items()
    ]
    print(table(["db", "request", "median ms", "p99 ms", "x native list"], rows))
    write_results("compat_lists", args.quick, {"alerts": args.alerts, "results": results})


if __name__ == "__main__":
    sys.exit(main())
