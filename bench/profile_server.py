"""Profile the server under one benchmark's load with py-spy; print where the time goes.

Not part of `run_all.py`. Needs py-spy in the venv (`.venv/bin/pip install py-spy`).
Scenarios: `batch` (1,000-alert POSTs), `single` (wrk, 32 connections, single-alert POSTs),
`list` (sequential GET /api/v1/incidents?status=OPEN at 200,000 incidents). Writes the
summary to bench/results/profile-<scenario>[-db][-idle].txt and the raw collapsed stacks to --raw.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from harness import (
    RESULTS,
    VENV_BIN,
    WRK_DONE,
    Database,
    HttpClient,
    Server,
    create_tenant,
    drop_database,
    ensure_wrk,
    fresh_database,
    log,
    pg_admin,
    run_wrk,
    workdir,
)
from ingest_single import ALERT_LUA
from list_incidents import page_paths, seed
from workload import AlertFactory


def summarise(raw: Path, top: int) -> str:
    """Inclusive and self shares of the sampled frames (line numbers folded)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    muster_leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
        mine = [f for f in stack.split(";") if "muster/" in f]
        if mine:
            muster_leaf[mine[-1]] += n
    out = [f"samples: {total}", "", "inclusive (% of samples):"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in own.most_common(25)]
    out += ["", "innermost muster frame (with line):"]
    out += [f"{100 * v / total:5.1f}%  {k}" for k, v in muster_leaf.most_common(25)]
    return "\n".join(out) + "\n"


def enable_auto_explain(db: Database, slow_ms: int) -> tuple[Path, int]:
    """Turn on auto_explain (with ANALYZE) for the benchmark database; return the server log
    and its current size, so the statements of this run can be read back afterwards."""
    for setting in (
        "session_preload_libraries = 'auto_explain'",
        f"auto_explain.log_min_duration = '{slow_ms}ms'",
        "auto_explain.log_analyze = on",
    ):
        pg_admin(f'ALTER DATABASE "{db.pg_name}" SET {setting}')
    logs = sorted(Path("/var/log/postgresql").glob("postgresql-*-main.log"))
    if not logs:
        raise SystemExit("--pg-slow-ms reads the local server log under /var/log/postgresql")
    return logs[-1], logs[-1].stat().st_size


def slow_statements(db: Database, pg_log: Path, start: int) -> str:
    """Count and show the slow plans auto_explain logged for the benchmark database."""
    with pg_log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    entries = re.split(r"\n(?=\S)", text)
    plans = [e for e in entries if f"@{db.pg_name} LOG:  duration:" in e and "plan:" in e]
    by_query: collections.Counter[str] = collections.Counter()
    total_ms: dict[str, float] = collections.defaultdict(float)
    example: dict[str, str] = {}
    for entry in plans:
        found = re.search(r"duration: ([\d.]+) ms", entry)
        ms = float(found.group(1)) if found else 0.0
        query = re.search(r"Query Text: (.*)", entry)
        head = " ".join((query.group(1) if query else "?").split())[:120]
        by_query[head] += 1
        total_ms[head] += ms
        example[head] = entry
    out = ["", f"slow PostgreSQL statements (auto_explain): {len(plans)}"]
    for head, n in by_query.most_common(5):
        out.append(f"{n:5d} x, {total_ms[head] / n:8.1f} ms avg  {head}")
    if example:
        worst = max(example, key=lambda h: total_ms[h])
        lines = [line[:200] for line in example[worst].splitlines() if line.strip()]
        out += ["", "plan of the costliest one (last occurrence):", *lines[:25]]
    return "\n".join(out) + "\n"


def main() -> int:
    """Start a server, load it, record it with py-spy, summarise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=("batch", "single", "list"))
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg-slow-ms",
        type=int,
        default=0,
        help="PostgreSQL: log plans (auto_explain) of statements slower than this, summarise them",
    )
    parser.add_argument(
        "--idle", action="store_true", help="also sample threads waiting (I/O, locks, database)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="recording time")
    parser.add_argument("--raw", type=Path, help="also keep the collapsed stacks here")
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument(
        "--all-threads", action="store_true", help="sample all running threads, not the GIL holder"
    )
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is missing: .venv/bin/pip install py-spy")
    with workdir("profile") as wd:
        db = fresh_database(args.db, "profile", wd)
        try:
            if args.pg_slow_ms and db.kind == "postgresql":
                pg_log, pg_log_start = enable_auto_explain(db, args.pg_slow_ms)
            tenant, key = create_tenant(db, "bench-profile")
            if args.scenario == "list":
                seed(db, [(tenant, 200_000)])
            raw = args.raw or wd / "stacks.txt"
            with Server(db, wd) as server:
                client = HttpClient(server.port, key)
                factory = AlertFactory(seed=3, prefix="profile")
                for _ in range(3):  # warm-up
                    body = orjson.dumps({"alerts": factory.batch(1000, datetime.now(UTC))})
                    if args.scenario == "batch":
                        client.post("/api/v1/alerts", body)
                paths = page_paths(client, 5) if args.scenario == "list" else []
                rec = subprocess.Popen(
                    [
                        spy,
                        "record",
                        "-p",
                        str(server.pid),
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "-r",
                        "250",
                        "-d",
                        str(int(args.seconds)),
                        *([] if args.all_threads or args.idle else ["--gil"]),
                        *(["--idle"] if args.idle else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
                deadline = time.monotonic() + args.seconds - 1.5
                if args.scenario == "single":
                    wrk = ensure_wrk()
                    assert wrk is not None
                    lua = wd / "alert.lua"
                    lua.write_text(ALERT_LUA + WRK_DONE)
                    run_wrk(
                        wrk,
                        server.url,
                        lua,
                        connections=32,
                        seconds=int(args.seconds) - 2,
                        args=["profile", key],
                    )
                while time.monotonic() < deadline and args.scenario != "single":
                    if args.scenario == "batch":
                        body = orjson.dumps({"alerts": factory.batch(1000, datetime.now(UTC))})
                        client.post("/api/v1/alerts", body)
                    else:
                        for path in paths:
                            client.get(path)
                rec.wait()
                client.close()
            text = summarise(raw, args.top)
            if args.pg_slow_ms and db.kind == "postgresql":
                text += slow_statements(db, pg_log, pg_log_start)
        finally:
            drop_database(db)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.db == "sqlite" else f"-{args.db}"
    out = RESULTS / f"profile-{args.scenario}{suffix}{'-idle' if args.idle else ''}.txt"
    out.write_text(text)
    print(text)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
