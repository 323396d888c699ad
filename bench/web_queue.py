"""`GET /ui/queue` (the web console's incident queue) at 1,000,000 incidents in one tenant.

Per database: a fresh database seeded exactly like `list_incidents.py` (1,000,000 incidents
for the measured tenant and 50,000 for each of two others, raw bulk insert), a user with a
password created with `muster user create --password`, a session cookie got by logging in over
HTTP (`/ui/login` with its CSRF token), then sequential requests to the queue page (first page
and the pages after it, following `a#next-page`) interleaved with the ceiling: the native
`GET /api/v1/incidents?limit=50` in the same run. Reports p50/p99 and server CPU per request.
Target: queue page p99 < 200 ms at 1M.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
import uuid
from html.parser import HTMLParser
from typing import Any

import httpx

import list_incidents
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
    percentile,
    run_cli,
    table,
    workdir,
    write_results,
)

TARGET_P99_MS = 200.0
QUEUE = "/ui/queue"
NATIVE = "/api/v1/incidents?limit=50"
PASSWORD = "bench-password-0123"
ROW = re.compile(r'<tr[^>]*\bdata-incident-id="[0-9a-f-]{36}"')
NEXT = re.compile(r'<a[^>]*\bid="next-page"[^>]*>')
HREF = re.compile(r'\bhref="([^"]+)"')


class CsrfField(HTMLParser):
    """Finds the value of the first `<input name="csrf_token">` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name") == "csrf_token" and self.value is None:
            self.value = found.get("value")


def log_in(server: Server, email: str) -> str:
    """Log in through the console's form like a browser; the `muster_session` cookie value."""
    with httpx.Client(base_url=server.url, timeout=60, follow_redirects=False) as http:
        form = http.get("/ui/login")
        assert form.status_code == 200, (form.status_code, form.text[:300])
        parser = CsrfField()
        parser.feed(form.text)
        assert parser.value, "no csrf_token on /ui/login"
        answer = http.post(
            "/ui/login",
            data={"email": email, "password": PASSWORD, "csrf_token": parser.value},
        )
        assert answer.status_code == 303, (answer.status_code, answer.text[:300])
        token = http.cookies.get("muster_session")
        assert token, "no muster_session cookie after login"
        return token


def queue_paths(client: HttpClient, pages: int) -> tuple[list[str], int]:
    """The queue's first page and the pages after it (following `a#next-page`); rows per page."""
    paths = [QUEUE]
    rows = 0
    for n in range(pages):
        status, body = client.get(paths[-1])
        assert status == 200, (status, body[:300])
        text = body.decode()
        found = len(ROW.findall(text))
        assert found > 0, f"no incident rows on {paths[-1]}"
        rows = rows or found
        link = NEXT.search(text)
        if n == pages - 1 or link is None:
            break
        href = HREF.search(link.group(0))
        assert href, link.group(0)
        paths.append(html.unescape(href.group(1)))
    return paths, rows


def sequential(
    server: Server,
    clients: dict[str, HttpClient],
    paths: dict[str, list[str]],
    count: int,
    blocks: int,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latency (ms) of `count` sequential requests of each kind, interleaved in `blocks`
    blocks so that noise hits all kinds alike; and server CPU µs per request of each kind."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    cpu = dict.fromkeys(paths, 0.0)
    per_block = max(1, count // blocks)
    for _ in range(blocks):
        for name, own in paths.items():
            cpu0 = server.cpu_seconds()
            for i in range(per_block):
                t0 = time.perf_counter()
                status, _ = clients[name].get(own[i % len(own)])
                out[name].append((time.perf_counter() - t0) * 1000)
                assert status == 200, (name, status)
            cpu[name] += server.cpu_seconds() - cpu0
    return out, {name: round(cpu[name] * 1e6 / len(out[name]), 1) for name in out}


def bench_one(kind: str, count: int, others: int, requests: int) -> dict[str, Any]:
    """Seed, log in and measure on one database kind."""
    with workdir("webqueue") as wd:
        db: Database = fresh_database(kind, "web_queue", wd)
        try:
            tenant, key = create_tenant(db, "bench-web")
            other = [create_tenant(db, f"bench-web-other-{i}")[0] for i in range(2)]
            email = f"analyst-{uuid.uuid4().hex[:6]}@bench.test"
            user = ["user", "create", email, "Bench Analyst", "--tenant", tenant]
            run_cli(db, *user, "--password", PASSWORD)
            log(f"{kind}: seeding {fmt(count)} + 2 x {fmt(others)} incidents")
            timings = list_incidents.seed(db, [(tenant, count)] + [(t, others) for t in other])
            log(f"{kind}: seeded in {timings}")
            with Server(db, wd) as server:
                cookie = log_in(server, email)
                web = HttpClient(server.port)
                web.headers["Cookie"] = f"muster_session={cookie}"
                api = HttpClient(server.port, key)
                web_paths, rows = queue_paths(web, 5)
                first = {"queue_first": web_paths[:1], "native_first": [NATIVE]}
                later = {"queue_next_pages": web_paths[1:] or web_paths[:1]}
                paths = {**first, **later}
                clients = {"queue_first": web, "queue_next_pages": web, "native_first": api}
                sequential(server, clients, paths, 60, 1)  # warm-up
                lat, cpu_us = sequential(server, clients, paths, requests, 10)
                web.close()
                api.close()
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
    worst = max(summary["queue_first"]["p99_ms"], summary["queue_next_pages"]["p99_ms"])
    return {
        "incidents": {"measured_tenant": count, "other_tenants": [others, others]},
        "seed_seconds": timings,
        "rows_per_page": rows,
        "pages_followed": len(web_paths),
        "sequential": summary,
        "ratio_p50_vs_native": round(
            summary["queue_first"]["p50_ms"] / summary["native_first"]["p50_ms"], 2
        ),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": worst < TARGET_P99_MS,
    }


def main() -> int:
    """Run the benchmark and write bench/results/web_queue[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 incidents, fewer requests")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    count, others, requests = (50_000, 10_000, 100) if args.quick else (1_000_000, 50_000, 500)
    results = per_backend(args.db, lambda kind: bench_one(kind, count, others, requests))
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
                s["queue_first"]["p50_ms"],
                s["queue_first"]["p99_ms"],
                s["queue_next_pages"]["p50_ms"],
                s["queue_next_pages"]["p99_ms"],
                s["native_first"]["p50_ms"],
                s["native_first"]["p99_ms"],
            ]
        )
    print(f"\nGET {QUEUE} at {fmt(count)} incidents (ceiling: GET {NATIVE}), sequential, ms")
    print(
        table(
            [
                "db",
                "target p99",
                "queue p50",
                "queue p99",
                "next pages p50",
                "next pages p99",
                "native p50",
                "native p99",
            ],
            rows,
        )
    )
    write_results(
        "web_queue",
        args.quick,
        {
            "params": {
                "incidents": count,
                "other_tenants": 2,
                "other_tenant_incidents": others,
                "sequential_requests_each": requests,
            },
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
