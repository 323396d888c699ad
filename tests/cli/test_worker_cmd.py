"""`muster worker`: its options, and a real process that runs jobs and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from muster.cli.main import app
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, create_db_engine, unit_of_work
from muster.db.engine import Database
from muster.db.migrate import upgrade
from muster.tenants.schemas import TenantCreate
from muster.tenants.service import create_tenant
from muster.worker.jobs import JOBS, enqueue

runner = CliRunner()


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["worker", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--threads", "--batch", "--poll"):
        assert option in result.output


def test_runs_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'worker.db'}")
    upgrade(settings)
    db = create_db_engine(settings)
    now = SystemClock().now()
    with unit_of_work(db, SystemContext(), write=True) as session:
        tenant_id = create_tenant(session, TenantCreate(name="worker-cli"), now).id
        # a timer for a run that does not exist: handled (and completed) as a stale timer
        job_id = enqueue(
            session,
            "soar.wake",
            {"processId": str(uuid.uuid4()), "token": 0},
            run_at=now,
            tenant_id=tenant_id,
            now=now,
        )
        # a kind this build has no handler for: left for a worker that knows it
        foreign_id = enqueue(session, "test.cli-no-such-kind", {}, run_at=now, now=now)
    env = {**os.environ, "MUSTER_DATABASE_URL": settings.database_url, "MUSTER_LOG_LEVEL": "info"}
    code = "import sys; from muster.cli import main; sys.argv[0] = 'muster'; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--poll", "0.1", "--threads", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while _state(db, job_id) != "done" and time.monotonic() < deadline:
            assert process.poll() is None, "".join(lines)
            time.sleep(0.1)
        assert _state(db, job_id) == "done", "".join(lines)
        assert _state(db, foreign_id) == "queued", "".join(lines)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(timeout=10) == 0, "".join(lines)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        db.dispose()
    reader.join(5)
    output = "".join(lines)
    assert output.count("worker_stopped") == 2, output


def _state(db: Database, job_id: uuid.UUID | None) -> str:
    with unit_of_work(db, SystemContext()) as session:
        return str(
            session.connection().execute(select(JOBS.c.state).where(JOBS.c.id == job_id)).scalar()
        )
