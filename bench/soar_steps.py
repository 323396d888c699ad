"""SOAR: action steps per second, question timeouts under load, and scaling over workers.

1. Step rate, SQLite, one worker: 200 incidents each start a 10-action playbook (memory,
   tags, severity, IP classification, ATT&CK lookup: no network). One `Worker` thread in this
   process runs them; steps/s = action steps logged / time until every run ended. Ceiling,
   same run: one write transaction per step doing the bare minimum a step writes (update the
   process row, insert a log row), through the same SQLAlchemy engine.
2. Timeouts, SQLite: 1,000 incidents each wait on a question (timeout 20 s, fallback step);
   all questions are asked within a few seconds, so they time out together. For each run:
   lag = start of the fallback step - its `soarTimeout`. Target: every lag under 2 s.
3. Scaling, PostgreSQL: a workload like 1 (1,500 runs) run by 1 and by 3 `muster worker`
   processes; target: 3 workers at least 2x the step rate of 1 (median of 3 alternated pairs).

Figures go to bench/results/soar_steps[-quick].json; docs/performance.md has the table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from harness import (
    MUSTER,
    Database,
    drop_database,
    fmt,
    fresh_database,
    log,
    median,
    percentile,
    pg_available,
    process_cpu_seconds,
    table,
    workdir,
    write_results,
)
from muster.alerts.ingest import ingest
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, create_db_engine, unit_of_work
from muster.db.engine import Database as MusterDatabase
from muster.incidents.lifecycle import Actor
from muster.models import SoarProcess, SoarStepLog
from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.service import create_playbook
from muster.tenants.schemas import TenantCreate
from muster.tenants.service import create_tenant
from muster.worker.handlers import all_handlers
from muster.worker.loop import Worker
from soak_peers import Receiver

ACTOR = Actor("user", "bench@example.test", "bench")
TARGET_STEPS = 500
TARGET_LAG_S = 2.0
TARGET_SCALE = 2.0
QUESTION_TIMEOUT_S = 20
RECEIVER_DELAY_S = 0.02  # a fast API on the other end of a webhook


def rate_playbook(name: str) -> dict[str, Any]:
    """Ten action steps that touch only muster's own data."""
    steps: list[dict[str, Any]] = [
        {"id": "m1", "kind": "action", "action": "set_memory", "params": {"values": {"a": 1}}},
        {
            "id": "ip",
            "kind": "action",
            "action": "classify_ip",
            "params": {"ip": "10.1.2.3", "networks": ["10.0.0.0/8"]},
        },
        {
            "id": "att",
            "kind": "action",
            "action": "attack_lookup",
            "params": {"technique": "T1059.001"},
        },
        {"id": "t1", "kind": "action", "action": "add_tags", "params": {"tags": ["bench"]}},
        {
            "id": "m2",
            "kind": "action",
            "action": "set_memory",
            "params": {"values": {"b": "{{ memory.a + 1 }}"}},
        },
        {"id": "sev", "kind": "action", "action": "set_severity", "params": {"severity": 4}},
        {"id": "m3", "kind": "action", "action": "set_memory", "params": {"values": {"c": 3}}},
        {"id": "t2", "kind": "action", "action": "add_tags", "params": {"tags": ["soar"]}},
        {"id": "m4", "kind": "action", "action": "set_memory", "params": {"values": {"d": 4}}},
        {"id": "m5", "kind": "action", "action": "set_memory", "params": {"values": {"e": 5}}},
    ]
    for current, following in itertools.pairwise(steps):
        current["next"] = following["id"]
    return {"name": name, "trigger": "incident", "steps": steps}


def calling_playbook(name: str, url: str) -> dict[str, Any]:
    """Six steps, two of them webhooks to a receiver that takes `RECEIVER_DELAY_S` to answer:
    the shape of most real playbooks (enrich or notify through an API, then act)."""
    steps: list[dict[str, Any]] = [
        {"id": "m1", "kind": "action", "action": "set_memory", "params": {"values": {"a": 1}}},
        {"id": "w1", "kind": "action", "action": "send_webhook", "params": {"url": url}},
        {"id": "t1", "kind": "action", "action": "add_tags", "params": {"tags": ["bench"]}},
        {"id": "w2", "kind": "action", "action": "send_webhook", "params": {"url": url}},
        {"id": "sev", "kind": "action", "action": "set_severity", "params": {"severity": 4}},
        {"id": "m2", "kind": "action", "action": "set_memory", "params": {"values": {"b": 2}}},
    ]
    for current, following in itertools.pairwise(steps):
        current["next"] = following["id"]
    return {"name": name, "trigger": "incident", "steps": steps}


def question_playbook(name: str, timeout_s: int) -> dict[str, Any]:
    """Ask, and fall back to one step when nobody answers."""
    return {
        "name": name,
        "trigger": "incident",
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": "Contain?",
                "options": ["yes", "no"],
                "answerMemory": "contain",
                "timeout": f"{timeout_s}s",
                "onTimeout": "fallback",
            },
            {
                "id": "fallback",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["escalated"]},
            },
        ],
    }


def setup(
    db: MusterDatabase,
    playbook: dict[str, Any],
    incidents: int,
    batch: int = 500,
    allowed_hosts: list[str] | None = None,
) -> uuid.UUID:
    """A tenant with one playbook and `incidents` new incidents (so as many queued runs)."""
    now = SystemClock().now()
    with unit_of_work(db, SystemContext(), write=True) as session:
        tenant = create_tenant(session, TenantCreate(name=f"soar-{uuid.uuid4().hex[:8]}"), now)
        tenant.settings = {"soarAllowedHosts": allowed_hosts or []}
        tenant_id = tenant.id
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        create_playbook(session, PlaybookDefinition.model_validate(playbook), ACTOR, now)
    alerts = [
        {
            "ruleName": "bench",
            "source": "bench",
            "severity": 3,
            "externalId": f"a{i}",
            "hostname": f"host-{i}",
        }
        for i in range(incidents)
    ]
    for start in range(0, incidents, batch):
        with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
            ingest(session, alerts[start : start + batch], ACTOR, SystemClock().now())
    return tenant_id


def active_runs(db: MusterDatabase, tenant_id: uuid.UUID) -> int:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    SoarProcess.status.in_(("PENDING", "RUNNING", "SLEEPING", "WAITING_CHILD"))
                )
            )
            or 0
        )


def action_steps(db: MusterDatabase, tenant_id: uuid.UUID) -> int:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return int(session.scalar(select(func.count()).where(SoarStepLog.kind == "action")) or 0)


def wait_until(check: Any, timeout: float, every: float = 0.05) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise RuntimeError("benchmark workload did not finish in time")
        time.sleep(every)
    return time.perf_counter() - start


def step_rate(bench_db: Database, runs: int) -> dict[str, Any]:
    """Figure 1: one in-process worker thread on SQLite."""
    settings = Settings(database_url=bench_db.url, embedded_worker=False)
    db = create_db_engine(settings, background_checkpoints=True)
    try:
        tenant_id = setup(db, rate_playbook("rate"), runs)
        worker = Worker(
            db,
            all_handlers(db, settings, SystemClock()),
            clock=SystemClock(),
            poll_seconds=0.05,
            batch=50,
        )
        start = time.perf_counter()
        worker.start()
        wait_until(lambda: active_runs(db, tenant_id) == 0, timeout=600)
        elapsed = time.perf_counter() - start
        worker.stop()
        steps = action_steps(db, tenant_id)
        ceiling = write_ceiling(db, tenant_id, 2000)
    finally:
        db.dispose()
    return {
        "runs": runs,
        "action_steps": steps,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(steps / elapsed, 1),
        "ceiling_tx_per_s": round(ceiling, 1),
        "ratio": round(steps / elapsed / ceiling, 3),
        "target_steps_per_s": TARGET_STEPS,
        "target_met": steps / elapsed >= TARGET_STEPS,
    }


def write_ceiling(db: MusterDatabase, tenant_id: uuid.UUID, count: int) -> float:
    """Transactions/s of the bare writes of a step: update a process row, insert a log row."""
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        process_id = session.scalars(select(SoarProcess.id).limit(1)).one()
    now = SystemClock().now()
    start = time.perf_counter()
    for i in range(count):
        with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
            process = session.get(SoarProcess, process_id)
            assert process is not None
            process.steps_run += 1
            session.add(
                SoarStepLog(
                    tenant_id=tenant_id,
                    process_id=process_id,
                    step_id=f"c{i}",
                    kind="ceiling",
                    outcome="ok",
                    started_at=now,
                    finished_at=now,
                )
            )
    return count / (time.perf_counter() - start)


def timeouts(bench_db: Database, runs: int, timeout_s: int) -> dict[str, Any]:
    """Figure 2: `runs` questions timing out together, one worker thread on SQLite."""
    settings = Settings(database_url=bench_db.url, embedded_worker=False)
    db = create_db_engine(settings, background_checkpoints=True)
    try:
        tenant_id = setup(db, question_playbook("ask", timeout_s), runs)
        worker = Worker(db, all_handlers(db, settings, SystemClock()), clock=SystemClock())
        worker.start()
        wait_until(lambda: waiting(db, tenant_id) == runs, timeout=300)
        with unit_of_work(db, TenantContext(tenant_id)) as session:
            due = {p.id: p.timeout_at for p in session.scalars(select(SoarProcess))}
        wait_until(lambda: ended(db, tenant_id) == runs, timeout=timeout_s + 120, every=0.2)
        worker.stop()
        lags = fallback_lags(db, tenant_id, due)
    finally:
        db.dispose()
    times = [at for at in due.values() if at is not None]
    spread_s = (max(times) - min(times)).total_seconds()
    return {
        "runs": runs,
        "question_timeout_s": timeout_s,
        "due_spread_s": round(spread_s, 2),
        "lag_s": {
            "p50": round(percentile(lags, 50), 3),
            "p99": round(percentile(lags, 99), 3),
            "max": round(max(lags), 3),
            "min": round(min(lags), 3),
        },
        "target_lag_s": TARGET_LAG_S,
        "target_met": max(lags) < TARGET_LAG_S,
    }


def waiting(db: MusterDatabase, tenant_id: uuid.UUID) -> int:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return int(
            session.scalar(select(func.count()).where(SoarProcess.status == "WAITING_INPUT")) or 0
        )


def ended(db: MusterDatabase, tenant_id: uuid.UUID) -> int:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return int(
            session.scalar(
                select(func.count()).where(SoarProcess.status.in_(("FINISHED", "FAILED")))
            )
            or 0
        )


def fallback_lags(
    db: MusterDatabase, tenant_id: uuid.UUID, due: dict[uuid.UUID, datetime | None]
) -> list[float]:
    """Per run: start of the fallback step (step log) - the question's `soarTimeout`."""
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        started = {
            row.process_id: row.started_at
            for row in session.execute(
                select(SoarStepLog.process_id, SoarStepLog.started_at).where(
                    SoarStepLog.step_id == "fallback"
                )
            )
        }
    return [(at - due[pid]).total_seconds() for pid, at in started.items() if due.get(pid)]


def scaling(runs: int, workers: int, playbook: dict[str, Any] | None = None) -> dict[str, Any]:
    """Figure 3: `workers` `muster worker` processes on PostgreSQL; steps/s. The workers are
    started and idle first; the clock starts when one transaction has queued every run."""
    with workdir("soar-scale") as wd:
        bench_db = fresh_database("postgresql", f"soar_scale_{workers}", wd)
        settings = Settings(database_url=bench_db.url, embedded_worker=False)
        db = create_db_engine(settings)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for n in range(workers):
                logfile = (wd / f"worker-{n}.log").open("wb")
                procs.append(
                    subprocess.Popen(
                        [MUSTER, "worker", "--poll", "0.05"],
                        env=bench_db.env(MUSTER_LOG_LEVEL="info"),
                        stdout=logfile,
                        stderr=subprocess.STDOUT,
                    )
                )
            wait_until(
                lambda: all(
                    "worker_started" in (wd / f"worker-{n}.log").read_text(errors="replace")
                    for n in range(workers)
                ),
                timeout=60,
            )
            cpu0 = sum(process_cpu_seconds(proc.pid) for proc in procs)
            tenant_id = setup(
                db, playbook or rate_playbook("rate"), runs, batch=runs, allowed_hosts=["127.0.0.1"]
            )
            busy0 = machine_busy_seconds()
            start = time.perf_counter()
            wait_until(lambda: active_runs(db, tenant_id) == 0, timeout=900, every=0.1)
            elapsed = time.perf_counter() - start
            machine = (machine_busy_seconds() - busy0) / elapsed
            cpu_s = sum(process_cpu_seconds(proc.pid) for proc in procs) - cpu0
            steps = action_steps(db, tenant_id)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            db.dispose()
            drop_database(bench_db)
    return {
        "workers": workers,
        "runs": runs,
        "action_steps": steps,
        "seconds": round(elapsed, 2),
        "steps_per_s": round(steps / elapsed, 1),
        "worker_cpu_us_per_step": round(cpu_s * 1e6 / steps),
        "worker_cores_busy": round(cpu_s / elapsed, 2),
        "machine_cores_busy": round(machine, 2),  # workers + PostgreSQL + this script
    }


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: all but idle, iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rate_runs, question_runs, scale_runs = (60, 200, 300) if args.quick else (200, 1000, 1500)
    scale_repeats = 1 if args.quick else 3
    call_runs = 60 if args.quick else 200
    results: dict[str, Any] = {}
    with workdir("soar-steps") as wd:
        bench_db = fresh_database("sqlite", "soar_rate", wd)
        log(f"step rate: {rate_runs} runs x 10 action steps, one worker thread, SQLite")
        results["step_rate_sqlite"] = step_rate(bench_db, rate_runs)
        log(f"  {results['step_rate_sqlite']}")
        bench_db = fresh_database("sqlite", "soar_timeouts", wd)
        log(f"timeouts: {question_runs} questions, timeout {QUESTION_TIMEOUT_S} s, SQLite")
        results["timeouts_sqlite"] = timeouts(bench_db, question_runs, QUESTION_TIMEOUT_S)
        log(f"  {results['timeouts_sqlite']}")
    if pg_available():
        pairs = []
        for _ in range(scale_repeats):  # 1 then 3 workers, alternated: noise hits both
            one = scaling(scale_runs, 1)
            log(f"  1 worker: {one}")
            three = scaling(scale_runs, 3)
            log(f"  3 workers: {three}")
            pairs.append((one, three))
        with Receiver(delay=RECEIVER_DELAY_S) as receiver:
            calling = calling_playbook("calling", receiver.url)
            call_one = scaling(call_runs, 1, calling)
            log(f"  calls, 1 worker: {call_one}")
            call_three = scaling(call_runs, 3, calling)
            log(f"  calls, 3 workers: {call_three}")
        results["scaling_postgresql_calls"] = {
            "receiver_delay_s": RECEIVER_DELAY_S,
            "one": call_one,
            "three": call_three,
            "speedup": round(call_three["steps_per_s"] / call_one["steps_per_s"], 2),
        }
        speedups = [three["steps_per_s"] / one["steps_per_s"] for one, three in pairs]
        middle = sorted(range(len(pairs)), key=lambda i: speedups[i])[len(pairs) // 2]
        one, three = pairs[middle]
        results["scaling_postgresql"] = {
            "one": one,
            "three": three,
            "speedups": [round(x, 2) for x in speedups],
            "speedup": round(median(speedups), 2),
            "target_speedup": TARGET_SCALE,
            "target_met": median(speedups) >= TARGET_SCALE,
        }
    else:
        results["scaling_postgresql"] = {"skipped": "PostgreSQL not reachable"}
    rate, lag = results["step_rate_sqlite"], results["timeouts_sqlite"]
    rows = [
        [
            "action steps/s, 1 worker, SQLite",
            f">= {TARGET_STEPS}",
            fmt(rate["steps_per_s"]),
            f"{fmt(rate['ceiling_tx_per_s'])} bare step tx/s",
            f"{rate['ratio']:.3f}",
        ],
        [
            f"fallback lag, {lag['runs']} timeouts (due within {lag['due_spread_s']} s)",
            f"< {TARGET_LAG_S} s",
            f"max {lag['lag_s']['max']} s, p99 {lag['lag_s']['p99']} s",
            "",
            "",
        ],
    ]
    scale = results["scaling_postgresql"]
    if "skipped" not in scale:
        rows.append(
            [
                "steps/s, PostgreSQL, 3 workers vs 1",
                f">= {TARGET_SCALE}x",
                f"{scale['speedup']}x ({fmt(scale['three']['steps_per_s'])} vs "
                f"{fmt(scale['one']['steps_per_s'])})",
                "",
                "",
            ]
        )
    calls = results.get("scaling_postgresql_calls")
    if calls:
        rows.append(
            [
                f"steps/s with webhooks ({calls['receiver_delay_s'] * 1000:.0f} ms), "
                "3 workers vs 1",
                f">= {TARGET_SCALE}x",
                f"{calls['speedup']}x ({fmt(calls['three']['steps_per_s'])} vs "
                f"{fmt(calls['one']['steps_per_s'])})",
                "",
                "",
            ]
        )
    print(table(["figure", "target", "measured", "ceiling", "ratio"], rows))
    write_results("soar_steps", args.quick, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
