"""Soak: a long mixed load (ingest, lists, reads, updates, comments, SOAR) from locust.

1. A fresh database (SQLite file, or `--db postgresql`: a database of its own on
   127.0.0.1:5432), migrated by `muster db upgrade`; a tenant, an analyst key, a tenant-admin
   key and three members (`muster` CLI). `muster serve` runs as a subprocess (its embedded
   worker runs the jobs on SQLite; on PostgreSQL `--workers` `muster worker` processes of
   `--worker-threads` threads each do, as in the production deployment).
2. Over HTTP: the tenant allows SOAR calls to 127.0.0.1, and a playbook runs on every new
   incident: remember the incident, a condition on severity (>= 4: the related incidents, a
   query over the alerts, and a comment with their count), a webhook to a receiver this
   script runs on loopback, and a tag. Notification mail goes to an SMTP server on loopback.
3. Seed: `SeedUser` sends `--seed-alerts` alerts of the soak's shape (10,000; quick 3,000),
   and the script waits until SOAR has run the playbook on every incident they opened, so the
   soak starts with the grouping keys known (steady state), not from an empty database.
4. Ceiling: `HealthUser` (`GET /health` back to back) through the same locust, same user
   count, for `--ceiling-seconds` before and after the soak.
5. The soak: `locust -f bench/soak_locustfile.py --headless ... SoakUser` for `--duration`
   (default 30m; `--quick` 2m). The mix and its weights are in the locustfile. Meanwhile a
   thread samples once per second: VmRSS and CPU of every muster process (server and worker
   with their children, from /proc), locust's CPU, the database's size, the jobs due and
   the SOAR runs pending or running (every 10 s also the incident and alert counts).
6. Results (`soak` + `-postgresql` + `-quick` as the run was): `bench/results/<stem>.json`
   (windows, verdict: see `soak_report`), `<stem>-samples.csv`, `<stem>-latency.json` (the
   histograms) and locust's CSVs `<stem>-locust_*.csv`; plots `<stem>-{throughput,p99,rss,
   backlog}.png` in `--plot-dir` (default `docs/` for a full run, `bench/results/` for a
   quick one, so a quick run never replaces the full run's plots).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import soak_output as output
import soak_report as report
from harness import (
    BENCH,
    MUSTER,
    RESULTS,
    ROOT,
    VENV_BIN,
    Database,
    HttpClient,
    Server,
    cli_json,
    create_tenant,
    drop_database,
    fresh_database,
    log,
    pg_available,
    run_cli,
    workdir,
    write_results,
)
from soak_peers import MailSink, Receiver
from soak_sampler import Sampler, backlog, wait_drained

ASSIGNEES = ("ana@soak.example", "bo@soak.example", "cy@soak.example")


def playbook(receiver_url: str) -> dict[str, Any]:
    """The playbook that runs on every new incident (module docstring, step 2)."""
    return {
        "name": "soak triage",
        "trigger": "incident",
        "steps": [
            {
                "id": "remember",
                "kind": "action",
                "action": "set_memory",
                "params": {"values": {"hash": "{{ incident.incidentHash }}"}},
                "next": "triage",
            },
            {
                "id": "triage",
                "kind": "condition",
                "branches": [{"when": "severity >= 4", "next": "related"}],
                "else": "notify",
            },
            {
                "id": "related",
                "kind": "action",
                "action": "related_incidents",
                "params": {"days": 1, "limit": 5},
                "next": "note",
            },
            {
                "id": "note",
                "kind": "action",
                "action": "comment",
                "params": {"body": "SOAR: {{ memory.related.incidents | length }} related"},
                "next": "notify",
            },
            {
                "id": "notify",
                "kind": "action",
                "action": "send_webhook",
                "params": {"url": receiver_url},
                "onError": "tag",
                "next": "tag",
            },
            {"id": "tag", "kind": "action", "action": "add_tags", "params": {"tags": ["triaged"]}},
        ],
    }


# --------------------------------------------------------------------------- locust


@dataclasses.dataclass
class LocustRun:
    """One locust run: its process, where it writes, what it recorded."""

    user_class: str
    seconds: int
    prefix: Path
    bucket_seconds: int
    users: int | None = None  # default: args.users
    proc: subprocess.Popen[bytes] | None = None

    @property
    def latency_path(self) -> Path:
        """The locustfile's histograms (JSON)."""
        return Path(f"{self.prefix}-latency.json")

    def start(self, url: str, key: str, args: argparse.Namespace) -> LocustRun:
        """Start `locust --headless` for `self.seconds` with `args.users` users."""
        users = self.users or args.users
        cmd = [
            str(VENV_BIN / "locust"),
            "-f",
            str(BENCH / "soak_locustfile.py"),
            "--headless",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "-u",
            str(users),
            "-r",
            str(args.spawn_rate),
            "-t",  # locust's clock includes spawning, which a busy machine slows down
            f"{self.seconds + math.ceil(users / args.spawn_rate) + 5}s",
            "--host",
            url,
            "--csv",
            str(self.prefix),
            "--csv-full-history",
            "--soak-user-rate",
            str(args.user_rate),
            "--soak-latency-file",
            str(self.latency_path),
            "--soak-seed",
            str(args.seed),
            "--soak-bucket-seconds",
            str(self.bucket_seconds),
            "--soak-seed-alerts",
            str(args.seed_alerts),
            self.user_class,
        ]
        env = {**os.environ, "SOAK_API_KEY": key, "SOAK_ASSIGNEES": ",".join(ASSIGNEES)}
        with Path(f"{self.prefix}.log").open("wb") as log_file:  # locust keeps its own copy
            self.proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        return self

    def wait(self) -> dict[str, Any]:
        """Wait for locust to end; its latency JSON (exit code 1 only means some failed)."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=self.seconds + 300)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        if code not in (0, 1) or not self.latency_path.exists():
            tail = Path(f"{self.prefix}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"locust {self.user_class} failed ({code}):\n{tail}")
        data: dict[str, Any] = json.loads(self.latency_path.read_text())
        return data


def seed(url: str, key: str, args: argparse.Namespace, wd: Path, db: Database) -> dict[str, Any]:
    """`SeedUser`'s alerts, then a wait until SOAR has worked off the incidents they opened."""
    log(f"seed: {args.seed_alerts} alerts, then SOAR drains")
    started = time.monotonic()
    LocustRun("SeedUser", 3600, wd / "seed", 10, users=1).start(url, key, args).wait()
    sent = time.monotonic() - started
    drained = wait_drained(db, args.drain_timeout)
    conn = db.connect()
    try:
        incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        left = backlog(db, conn)
    finally:
        conn.close()
    return {
        "alerts": args.seed_alerts,
        "incidents": incidents,
        "ingest_s": round(sent, 1),
        "drain_s": round(drained, 1),
        "jobs_due_left": left.jobs_due,
        "soar_active_left": left.soar_active,
    }


def ceiling(
    url: str, key: str, args: argparse.Namespace, wd: Path, server: Server
) -> dict[str, Any]:
    """`GET /health` back to back through the same locust: req/s, p50, p99, server CPU."""
    run = LocustRun("HealthUser", args.ceiling_seconds, wd / f"ceiling-{time.time():.0f}", 1)
    cpu0 = server.cpu_seconds()
    data = run.start(url, key, args).wait()
    cpu = server.cpu_seconds() - cpu0
    buckets = report.buckets_of(data)
    bounds = report.window_bounds(buckets, data["bucketSeconds"], data["spawningCompleteAt"], 10**6)
    start, end = bounds[0]
    figures = report.request_figures([b for b in buckets if start <= b.start < end], end - start)
    total = sum(b.requests for b in buckets)
    return {
        "seconds": end - start,
        "rps": figures["rps"],
        "p50_ms": figures["p50_ms"],
        "p99_ms": figures["p99_ms"],
        "failures": figures["failures"],
        "server_cpu_us_per_request": round(cpu * 1e6 / total) if total else None,
    }


# --------------------------------------------------------------------------- the run


def parse_duration(text: str) -> int:
    """`30m`, `90s`, `1h`, `1h30m` or plain seconds -> seconds."""
    if text.isdigit():
        return int(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not parts or not any(parts.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 30m, 90s, 1h)")
    hours, minutes, seconds = (int(g or 0) for g in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def setup_tenant(db: Database, port: int, receiver_url: str) -> tuple[str, str]:
    """Tenant, keys, members, SOAR allow-list and the playbook; (tenant id, analyst key)."""
    tenant_id, analyst_key = create_tenant(db, "soak")
    admin = cli_json(db, "apikey", "create", "--tenant", tenant_id, "--role", "tenant_admin")
    for email in ASSIGNEES:
        run_cli(db, "user", "create", email, email.split("@")[0].title(), "--tenant", tenant_id)
    client = HttpClient(port, str(admin["key"]))
    settings = json.dumps({"settings": {"soarAllowedHosts": ["127.0.0.1"]}}).encode()
    for method, path, body in (
        ("PATCH", f"/api/v1/tenants/{tenant_id}", settings),
        ("POST", "/api/v1/playbooks", json.dumps(playbook(receiver_url)).encode()),
    ):
        status, answer = client.request(method, path, body)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {answer[:500]!r}")
    client.close()
    return tenant_id, analyst_key


def totals(db: Database) -> dict[str, Any]:
    """What the soak left in the database."""
    conn = db.connect()
    try:

        def grouped(sql: str) -> dict[str, int]:
            return {str(k): int(n) for k, n in conn.execute(sql).fetchall()}

        one = conn.execute
        return {
            "alerts": one("SELECT count(*) FROM alerts").fetchone()[0],
            "incidents_by_status": grouped("SELECT status, count(*) FROM incidents GROUP BY 1"),
            "soar_runs_by_status": grouped(
                "SELECT status, count(*) FROM soar_processes GROUP BY 1"
            ),
            "soar_step_logs": one("SELECT count(*) FROM soar_step_logs").fetchone()[0],
            "jobs_by_state": grouped("SELECT state, count(*) FROM jobs GROUP BY 1"),
        }
    finally:
        conn.close()


PROBLEMS = {
    "errors": r"\[(?:error|critical)\s*\]",
    "warnings": r"\[warning\s*\]",
    "tracebacks": r"^Traceback",
}


def log_problems(text: str) -> dict[str, Any]:
    """How many error and warning lines (structlog's `[error ]`, `[warning ]`) and tracebacks
    a log holds, and the first five such lines (the log itself goes with the workdir)."""
    lines = text.splitlines()
    found: dict[str, Any] = {
        level: sum(1 for line in lines if re.search(pattern, line))
        for level, pattern in PROBLEMS.items()
    }
    either = "|".join(PROBLEMS.values())
    found["first"] = [line[:300] for line in lines if re.search(either, line)][:5]
    return found


def soak(args: argparse.Namespace, wd: Path) -> dict[str, Any]:
    """Set up, measure the ceiling, run the soak while sampling; everything collected."""
    db = fresh_database(args.db, "soak", wd)
    pg = args.db == "postgresql"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with Receiver() as receiver, MailSink() as mail:
            env = {**mail.env(), **({"MUSTER_EMBEDDED_WORKER": "false"} if pg else {})}
            server = Server(db, wd, extra_env=env)
            with server:
                for n in range(args.workers if pg else 0):
                    with (wd / f"worker-{n}.log").open("wb") as worker_log:
                        workers.append(
                            subprocess.Popen(
                                [MUSTER, "worker", "--threads", str(args.worker_threads)],
                                env=db.env(**mail.env()),
                                stdout=worker_log,
                                stderr=subprocess.STDOUT,
                            )
                        )
                _, key = setup_tenant(db, server.port, receiver.url)
                seeded = seed(server.url, key, args, wd, db)
                log(f"ceiling: GET /health for {args.ceiling_seconds} s")
                before = ceiling(server.url, key, args, wd, server)
                log(f"soak: {args.duration} s, {args.users} users x {args.user_rate} tasks/s")
                run = LocustRun("SoakUser", args.duration, wd / "locust", 10)
                t0 = time.time()
                run.start(server.url, key, args)
                assert run.proc is not None
                sampler = Sampler(db, server.pid, [w.pid for w in workers], run.proc.pid)
                sampler.start()
                try:
                    latency = run.wait()
                finally:
                    samples = sampler.stop()
                log(f"ceiling again: GET /health for {args.ceiling_seconds} s")
                after = ceiling(server.url, key, args, wd, server)
                after["jobs_due_when_started"] = samples[-1].jobs_due if samples else None
                peers = {"webhooks_received": receiver.received, "mails_received": mail.received}
            left = totals(db)
        logs = {"server_log": log_problems(server.log_path.read_text(errors="replace"))}
        for n in range(len(workers)):
            text = (wd / f"worker-{n}.log").read_text(errors="replace")
            logs[f"worker_{n}_log"] = log_problems(text)
        return {
            "t0": t0,
            "latency": latency,
            "samples": samples,
            "sample_errors": sampler.errors,
            "seed": seeded,
            "ceiling": {"before": before, "after": after},
            "totals": {**left, **peers, **logs},
            "locust_prefix": wd / "locust",
        }
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        if pg:
            drop_database(db)


def shown(path: Path) -> str:
    """`path` relative to the checkout when it lies inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def publish(args: argparse.Namespace, got: dict[str, Any]) -> dict[str, Any]:
    """Windows, verdict, files and plots; the JSON summary (also written to bench/results)."""
    stem = "soak" + ("-postgresql" if args.db == "postgresql" else "")
    files_stem = stem + ("-quick" if args.quick else "")
    latency, samples, t0 = got["latency"], got["samples"], got["t0"]
    found = report.summarise(latency, samples, t0, args.window)
    files = output.keep_raw(RESULTS, files_stem, got["locust_prefix"], samples, t0)
    plot_dir = args.plot_dir or (RESULTS if args.quick else ROOT / "docs")
    plot_dir.mkdir(parents=True, exist_ok=True)
    plots = {k: plot_dir / f"{files_stem}-{k}.png" for k in ("throughput", "p99", "rss", "backlog")}
    compared = [(w["from_min"], w["to_min"]) for w in (found.windows[0], found.windows[-1])]
    title = f"soak, {args.db}, {args.users} users x {args.user_rate} tasks/s"
    output.plot(found.buckets, samples, found.bucket_s, output.Plot(title, t0, compared), plots)
    files.update({f"plot_{k}": path for k, path in plots.items()})
    before = got["ceiling"]["before"]
    data = {
        "params": {
            "db": args.db,
            "duration_s": args.duration,
            "users": args.users,
            "spawn_rate": args.spawn_rate,
            "task_runs_per_s_per_user": args.user_rate,
            "offered_task_runs_per_s": args.users * args.user_rate,
            "task_weights": latency.get("weights"),
            "window_s": args.window,
            "bucket_s": found.bucket_s,
            "ceiling_s": args.ceiling_seconds,
            "workers": args.workers if args.db == "postgresql" else "embedded",
            "worker_threads": args.worker_threads if args.db == "postgresql" else None,
            "playbook": playbook("http://127.0.0.1:PORT/soak-hook"),
        },
        "seed": got["seed"],
        "ceiling": got["ceiling"],
        "soak": {
            **found.whole,
            "ratio_to_ceiling": round(found.whole["rps"] / before["rps"], 3)
            if before["rps"]
            else None,
        },
        "windows": found.windows,
        "verdict": found.verdict,
        "totals": got["totals"],
        "sample_errors": got["sample_errors"][:20],
        "files": {k: shown(v) for k, v in files.items()},
    }
    write_results(stem, args.quick, data)
    return data


def main() -> int:
    """Run the soak and publish its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes, 30-s windows")
    parser.add_argument("--duration", type=parse_duration, help="e.g. 30m (default), 90s, 1h")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--users", type=int, default=16, help="locust users")
    parser.add_argument("--workers", type=int, default=2, help="`muster worker`s (PostgreSQL)")
    parser.add_argument("--worker-threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--spawn-rate", type=float, default=8.0, help="users started per second")
    parser.add_argument("--user-rate", type=float, default=4.0, help="task runs/s per user")
    parser.add_argument("--window", type=int, help="seconds per window (default 300; quick 30)")
    parser.add_argument("--ceiling-seconds", type=int, default=20)
    parser.add_argument("--seed-alerts", type=int, help="before the soak (10,000; quick 3,000)")
    parser.add_argument("--drain-timeout", type=float, default=600, help="after seeding (s)")
    parser.add_argument("--plot-dir", type=Path, help="default docs/ (bench/results/ if quick)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.duration = args.duration or (120 if args.quick else 1800)
    args.window = args.window or (30 if args.quick else 300)
    args.seed_alerts = (
        args.seed_alerts if args.seed_alerts is not None else (3_000 if args.quick else 10_000)
    )
    if args.db == "postgresql" and not pg_available():
        log("PostgreSQL is not reachable at 127.0.0.1:5432")
        return 2
    with workdir("soak") as wd:
        data = publish(args, soak(args, wd))
    output.show(data)
    return 0 if data["verdict"]["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
