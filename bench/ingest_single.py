"""Single-alert POST with grouping: 32 concurrent clients, one server process, SQLite.

The load generator is wrk (C, epoll) with a Lua script that builds a unique alert per request
(unique externalId; 50 rules, 300 hosts with a skew, 400 users) and reports its latency
percentiles from `done()`. The ceiling is the same wrk load on the no-op `GET /health` of the
same server, measured alternately with the alert runs. Each run lasts a fixed time after a
warm-up; the figure is the median over runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    VENV_BIN,
    WRK_DONE,
    HttpClient,
    Server,
    WrkResult,
    create_tenant,
    drop_database,
    ensure_wrk,
    fmt,
    free_port,
    fresh_database,
    log,
    median,
    run_wrk,
    spread,
    table,
    workdir,
    write_results,
)

CONNECTIONS = 32
THREADS = 2  # wrk threads; one thread alone adds its own tail latency on this machine
BARE_APP = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/async")
async def no_op_async() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.get("/sync")
def no_op_sync() -> JSONResponse:
    return JSONResponse({"status": "ok"})
"""
TARGET_RPS = 1_000
TARGET_P99_MS = 50.0

ALERT_LUA = r"""
local counter = 0
local sources = {"Microsoft Defender for Endpoint", "CrowdStrike Falcon", "SentinelOne",
                 "Palo Alto Cortex XDR", "Elastic Security"}
local tactics = {{"Execution", "T1059.001"}, {"Credential Access", "T1003.001"},
                 {"Persistence", "T1547.001"}, {"Lateral Movement", "T1021.002"},
                 {"Discovery", "T1087"}, {"Command and Control", "T1071.001"}}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  prefix = args[1] .. "-" .. tostring(tid or 0)
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.method = "POST"
  wrk.path = "/api/v1/alerts"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local rule = math.floor(50 * math.random() ^ 2)
  local host = math.floor(300 * math.random() ^ 2)
  local user = (host * 7 + math.random(0, 2)) % 400
  local t = tactics[rule % #tactics + 1]
  local body = string.format(
    '{"ruleName":"Detection rule #%02d","source":"%s","externalId":"%s-%d",'
    .. '"severity":%d,"category":"Suspicious activity",'
    .. '"description":"Detection rule #%02d observed on ws-%04d.corp.example",'
    .. '"hostname":"ws-%04d.corp.example","username":"user%03d@corp.example",'
    .. '"srcIp":"10.0.%d.%d","destIp":"203.0.113.%d","destPort":443,'
    .. '"mitreTactic":"%s","mitreTechnique":"%s",'
    .. '"initiatorCmd":"powershell.exe -enc %08x","tags":["bench"],'
    .. '"entities":[{"type":"host","value":"ws-%04d.corp.example"}],'
    .. '"vendor":{"sensorId":"sensor-%05d"}}',
    rule, sources[rule % 5 + 1], prefix, counter, rule % 4 + 1, rule, host, host, user,
    host % 250, math.random(1, 254), math.random(1, 254), t[1], t[2],
    math.random(0, 2147483647), host, math.random(0, 99999))
  return wrk.format(nil, nil, nil, body)
end
"""


def bench(quick: bool) -> dict[str, Any]:
    """Alternate /health and alert runs on one SQLite-backed server."""
    wrk = ensure_wrk()
    if wrk is None:
        raise SystemExit("wrk is required (apt-get install -y wrk)")
    runs, seconds, warmup = (2, 5, 2) if quick else (4, 10, 3)
    alerts: list[WrkResult] = []
    health: list[WrkResult] = []
    cpu_us: list[float] = []
    health_cpu_us: list[float] = []
    with workdir("ingest-single") as wd:
        db = fresh_database("sqlite", "ingest_single", wd)
        try:
            _, key = create_tenant(db, "bench-single")
            alert_lua = wd / "alert.lua"
            alert_lua.write_text(ALERT_LUA + WRK_DONE)
            health_lua = wd / "health.lua"
            health_lua.write_text(WRK_DONE)
            with Server(db, wd) as server:
                url = server.url
                run_wrk(
                    wrk,
                    url + "/health",
                    health_lua,
                    connections=CONNECTIONS,
                    threads=THREADS,
                    seconds=warmup,
                )
                run_wrk(
                    wrk,
                    url,
                    alert_lua,
                    connections=CONNECTIONS,
                    threads=THREADS,
                    seconds=warmup,
                    args=["warmup", key],
                )
                for run in range(runs):
                    cpu0 = server.cpu_seconds()
                    h = run_wrk(
                        wrk,
                        url + "/health",
                        health_lua,
                        connections=CONNECTIONS,
                        threads=THREADS,
                        seconds=seconds,
                    )
                    health_cpu_us.append((server.cpu_seconds() - cpu0) * 1e6 / max(h.requests, 1))
                    cpu0 = server.cpu_seconds()
                    a = run_wrk(
                        wrk,
                        url,
                        alert_lua,
                        connections=CONNECTIONS,
                        threads=THREADS,
                        seconds=seconds,
                        args=[f"run{run}", key],
                    )
                    cpu_us.append((server.cpu_seconds() - cpu0) * 1e6 / max(a.requests, 1))
                    health.append(h)
                    alerts.append(a)
                    log(
                        f"run {run + 1}/{runs}: alerts {fmt(a.rps)}/s p50 {a.p50_ms:.1f} ms "
                        f"p99 {a.p99_ms:.1f} ms errors {a.errors} | health {fmt(h.rps)}/s "
                        f"p99 {h.p99_ms:.1f} ms; server CPU/request alerts {cpu_us[-1]:.0f} µs, "
                        f"health {health_cpu_us[-1]:.0f} µs"
                    )
            stored = _count_alerts(db.path)
            floor = bare_floor(wrk, wd, seconds)
            log(f"bare FastAPI floor: {floor}")
        finally:
            drop_database(db)
    rps = [a.rps for a in alerts]
    p99 = [a.p99_ms for a in alerts]
    ratios = [a.rps / h.rps for a, h in zip(alerts, health, strict=True)]
    return {
        "params": {
            "connections": CONNECTIONS,
            "runs": runs,
            "seconds_per_run": seconds,
            "warmup_s": warmup,
            "load_generator": f"wrk -t{THREADS} + Lua (unique bodies)",
            "server_processes": 1,
            "database": "sqlite",
        },
        "alerts": {
            "rps": spread(rps),
            "p50_ms": spread([a.p50_ms for a in alerts]),
            "p90_ms": spread([a.p90_ms for a in alerts]),
            "p99_ms": spread(p99),
            "errors": sum(a.errors for a in alerts),
            "server_cpu_us_per_alert": spread(cpu_us),
        },
        "health_ceiling": {
            "rps": spread([h.rps for h in health]),
            "p50_ms": spread([h.p50_ms for h in health]),
            "p99_ms": spread([h.p99_ms for h in health]),
            "server_cpu_us_per_request": spread(health_cpu_us),
        },
        "ratio": round(median(ratios), 3),
        "bare_fastapi_floor": floor,
        "runs": [
            {"alerts": a.as_dict(), "health": h.as_dict()}
            for a, h in zip(alerts, health, strict=True)
        ],
        "stored_alerts": stored,
        "target": {"rps": TARGET_RPS, "p99_ms": TARGET_P99_MS},
        "target_met": median(rps) >= TARGET_RPS and median(p99) < TARGET_P99_MS,
    }


def bare_floor(wrk: str, wd: Path, seconds: int) -> dict[str, Any]:
    """The framework floor: a bare FastAPI app (no middleware, no database) in one uvicorn
    process, under the same wrk load, for `async def` and `def` no-op routes."""
    (wd / "bare_app.py").write_text(BARE_APP)
    lua = wd / "bare.lua"
    lua.write_text(WRK_DONE)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "uvicorn"),
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=wd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if HttpClient(port).get("/async")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        out = {}
        for route in ("async", "sync"):
            url = f"http://127.0.0.1:{port}/{route}"
            run_wrk(wrk, url, lua, connections=CONNECTIONS, threads=THREADS, seconds=2)
            out[route] = run_wrk(
                wrk, url, lua, connections=CONNECTIONS, threads=THREADS, seconds=seconds
            ).as_dict()
        return out
    finally:
        proc.terminate()
        proc.wait()


def _count_alerts(path: Path | None) -> int:
    import sqlite3

    assert path is not None
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])


def main() -> int:
    """Run the benchmark and write bench/results/ingest_single[-quick].json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    result = bench(args.quick)
    a, h = result["alerts"], result["health_ceiling"]
    print("\nSingle-alert POST, 32 connections, 1 server process, SQLite")
    print(
        table(
            ["load", "target", "req/s (median)", "p50 ms", "p99 ms", "errors"],
            [
                [
                    "POST /api/v1/alerts",
                    f">= {TARGET_RPS:,}/s, p99 < {TARGET_P99_MS:.0f} ms",
                    fmt(a["rps"]["median"]),
                    a["p50_ms"]["median"],
                    a["p99_ms"]["median"],
                    a["errors"],
                ],
                [
                    "GET /health (ceiling)",
                    "",
                    fmt(h["rps"]["median"]),
                    h["p50_ms"]["median"],
                    h["p99_ms"]["median"],
                    "",
                ],
                *[
                    [
                        f"bare FastAPI `{route}` no-op (floor, 1 run)",
                        "",
                        fmt(r["rps"]),
                        r["p50_ms"],
                        r["p99_ms"],
                        r["errors"],
                    ]
                    for route, r in result["bare_fastapi_floor"].items()
                ],
            ],
        )
    )
    print(f"ratio alerts/health: {result['ratio']:.3f}")
    write_results("ingest_single", args.quick, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
