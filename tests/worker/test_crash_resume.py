"""A worker killed (SIGKILL) while a `send_webhook` step is in flight leaves the run at that
step; once the job's lease has run out another worker takes the job over and finishes the run,
sending the webhook again with the same `Idempotency-Key` (at least once, never silently lost).

Everything is real: `muster db upgrade`, `tenant create` and `apikey create` run as
subprocesses, `muster serve` (no embedded worker) serves the API, two `muster worker` processes
run the jobs, and a loopback HTTP receiver in the test process holds the first webhook long
enough to kill its worker mid-request. Runs on a fresh SQLite file and on a fresh PostgreSQL
schema (skipped when no server answers, unless MUSTER_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from muster.config import Settings
from muster.db import SystemContext, create_db_engine, unit_of_work
from muster.soar.transitions import RUN
from muster.worker.jobs import JOBS
from tests.factories import alert
from tests.live.processes import Processes, free_port, health_status, wait_for
from tests.live.receiver import Receiver, serving

LEASE_S = 3  # MUSTER_JOB_LEASE_SECONDS of both workers
FIRST_HOLD_S = 10.0  # how long the receiver holds the first webhook
HTTP_TIMEOUT_S = 2  # MUSTER_HTTP_ACTION_TIMEOUT_SECONDS: bounds each webhook attempt
# worker B started -> process FINISHED: the dead worker had renewed its lease to cover the
# webhook it was sending (its time limit + 5 s), so B takes over only after that
RESUME_WITHIN_S = 20.0


# ------------------------------------------------------------------ the webhook receiver


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """The webhook receiver, holding the first webhook up to FIRST_HOLD_S."""
    with serving(Receiver(hold_first_s=FIRST_HOLD_S)) as running:
        yield running


# ------------------------------------------------------------------ the database


def playbook(url: str) -> dict[str, Any]:
    """set_memory -> send_webhook (no retries) -> add_tags -> end, on every new incident."""
    return {
        "name": f"crash-resume-{uuid.uuid4().hex[:8]}",
        "trigger": "incident",
        "steps": [
            {
                "id": "remember",
                "kind": "action",
                "action": "set_memory",
                "params": {"values": {"phase": "before-webhook"}},
                "next": "notify",
            },
            {
                "id": "notify",
                "kind": "action",
                "action": "send_webhook",
                "params": {"url": url},
                "retries": 0,
                "next": "tag",
            },
            {
                "id": "tag",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["after-crash"]},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


# ------------------------------------------------------------------ the test


def test_a_run_whose_worker_was_killed_mid_webhook_is_finished_by_another_worker(
    own_database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    env = {
        **os.environ,
        "MUSTER_DATABASE_URL": own_database_url,
        "MUSTER_EMBEDDED_WORKER": "false",
        "MUSTER_JOB_LEASE_SECONDS": str(LEASE_S),
        "MUSTER_HTTP_ACTION_TIMEOUT_SECONDS": str(HTTP_TIMEOUT_S),
        "MUSTER_WORKER_POLL_SECONDS": "0.1",
        "MUSTER_LOG_LEVEL": "info",
    }
    muster = Processes(env, tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base_url, timeout=10)
    try:
        muster.run("db", "upgrade")
        muster.start("serve", "serve", "--host", "127.0.0.1", "--port", str(port))
        worker_a = muster.start("worker-a", "worker", "--poll", "0.1")
        tenant = muster.run_json("tenant", "create", f"crash-{uuid.uuid4().hex[:8]}", "--json")
        keys = {
            role: muster.run_json(
                "apikey", "create", "--tenant", tenant["id"], "--role", role, "--json"
            )["key"]
            for role in ("analyst", "tenant_admin")
        }
        analyst = {"Authorization": f"Bearer {keys['analyst']}"}
        admin = {"Authorization": f"Bearer {keys['tenant_admin']}"}
        wait_for(lambda: health_status(base_url), lambda s: s == 200, 30, muster.tails)
        allowed = api.patch(
            f"/api/v1/tenants/{tenant['id']}",
            json={"settings": {"soarAllowedHosts": ["127.0.0.1"]}},
            headers=admin,
        )
        assert allowed.status_code == 200, allowed.text
        saved = api.post("/api/v1/playbooks", json=playbook(receiver.url), headers=admin)
        assert saved.status_code == 201, saved.text
        t_setup = time.monotonic()

        # worker A runs set_memory, then sends the webhook, which the receiver holds
        ingested = api.post(
            "/api/v1/alerts", json=alert(hostname=f"h-{uuid.uuid4().hex[:8]}"), headers=analyst
        )
        assert ingested.status_code == 200, ingested.text
        incident_id = ingested.json()["items"][0]["incidentId"]
        assert receiver.first.wait(30), "the webhook never arrived\n" + muster.tails()
        first = receiver.received()[0]
        os.kill(worker_a.pid, signal.SIGKILL)
        assert worker_a.wait(10) == -signal.SIGKILL
        t_killed = time.monotonic()
        assert t_killed - first.at < FIRST_HOLD_S, "the receiver stopped holding before the kill"
        process_id = first.body["processId"]
        assert first.body["stepId"] == "notify"

        def process() -> dict[str, Any]:
            answer = api.get(f"/api/v1/soar/processes/{process_id}", headers=analyst)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        # the run stays where the killed worker left it: at the webhook, nothing logged for it
        stuck = process()
        assert (stuck["status"], stuck["currentStepId"]) == ("RUNNING", "notify"), stuck
        assert [(s["stepId"], s["outcome"]) for s in stuck["steps"]] == [("remember", "ok")]
        assert stuck["memory"]["phase"] == "before-webhook"
        key = f"{process_id}:{stuck['stepsRun']}"
        assert first.idempotency_key == key

        # worker B takes the job over once A's lease has run out, and finishes the run
        worker_b = muster.start("worker-b", "worker", "--poll", "0.1")
        t_b = time.monotonic()
        done = wait_for(process, lambda p: p["status"] != "RUNNING", RESUME_WITHIN_S, muster.tails)
        t_done = time.monotonic()
        assert done["status"] == "FINISHED", f"{done}\n{muster.tails()}"
        assert worker_b.poll() is None, muster.tails()
        steps = [(s["stepId"], s["outcome"]) for s in done["steps"]]
        assert steps == [("remember", "ok"), ("notify", "ok"), ("tag", "ok"), ("done", "ok")]
        notify = next(s for s in done["steps"] if s["stepId"] == "notify")
        assert notify["action"] == "send_webhook" and notify["outputs"]["status"] == 200
        assert notify["error"] is None

        incident = api.get(f"/api/v1/incidents/{incident_id}", headers=analyst).json()
        assert "after-crash" in incident["tags"], incident
        assert incident["soarStatus"] == "FINISHED", incident
        assert incident["soarProcessId"] == process_id

        # at least once, with one idempotency key: the held request and the resent one
        hooks = receiver.received()
        assert [h.path for h in hooks] == ["/hook", "/hook"], hooks
        assert [h.idempotency_key for h in hooks] == [key, key]
        assert hooks[1].body["processId"] == process_id

        # the same job, claimed a second time, and completed by worker B
        db = create_db_engine(Settings(database_url=own_database_url))
        try:
            with unit_of_work(db, SystemContext()) as session:
                jobs = session.connection().execute(
                    select(JOBS.c.state, JOBS.c.attempts, JOBS.c.locked_by).where(
                        JOBS.c.kind == RUN
                    )
                )
                (state, attempts, locked_by), *others = list(jobs)
        finally:
            db.dispose()
        assert others == []
        assert (state, attempts) == ("done", 2)
        assert f":{worker_b.pid}:" in str(locked_by), locked_by

        print(
            f"\n[{own_database_url.split(':', 1)[0]}] setup {t_setup - t0:.1f}s, "
            f"alert -> kill {t_killed - t_setup:.1f}s, "
            f"worker B started -> FINISHED {t_done - t_b:.1f}s "
            f"(kill -> FINISHED {t_done - t_killed:.1f}s, lease {LEASE_S}s), "
            f"total {time.monotonic() - t0:.1f}s"
        )
    finally:
        api.close()
        muster.stop_all()
