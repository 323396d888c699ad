"""The production deployment for live tests (docs/deployment.md): `muster db upgrade`, a
tenant with an analyst and an admin key made with the CLI, `muster serve --workers N` without
the embedded worker, and M `muster worker` processes, all on one database.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.live.processes import Processes, free_port, wait_for

UP_WITHIN_S = 90  # every API process serving, after the CLI commands (a busy machine is slow)


@dataclass
class Cluster:
    """The running deployment: API processes behind one port, workers, one tenant's keys."""

    muster: Processes
    port: int
    api_pids: list[int]
    worker_pids: list[int]
    tenant_id: uuid.UUID
    analyst: dict[str, str]
    admin: dict[str, str]
    database_url: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds from the start

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_cluster(
    database_url: str, logs: Path, *, api_processes: int, workers: int
) -> Iterator[Cluster]:
    """Migrate `database_url`, start the API processes and workers (logging into `logs`) and
    make a tenant and its keys meanwhile; yield once every API process serves; stop them all."""
    t0 = time.monotonic()
    env = {
        **os.environ,
        "MUSTER_DATABASE_URL": database_url,
        "MUSTER_EMBEDDED_WORKER": "false",
        "MUSTER_DATABASE_POOL_SIZE": "4",
        "MUSTER_WORKER_POLL_SECONDS": "0.1",
        "MUSTER_LOG_LEVEL": "info",  # uvicorn names the API processes it starts
    }
    muster = Processes(env, logs)
    port = free_port()
    pids: list[int] = []
    try:
        muster.run("db", "upgrade")
        timings = {"migrated": time.monotonic() - t0}
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        muster.start("serve", *serve, "--workers", str(api_processes))
        started = [muster.start(f"worker-{n}", "worker", "--poll", "0.1") for n in range(workers)]
        tenant = muster.run_json("tenant", "create", f"live-{uuid.uuid4().hex[:8]}", "--json")
        with ThreadPoolExecutor(2) as pool:  # two interpreters start at once
            minted = pool.map(
                lambda role: muster.run_json(
                    "apikey", "create", "--tenant", tenant["id"], "--role", role, "--json"
                ),
                ("analyst", "tenant_admin"),
            )
            keys = {key["role"]: key["key"] for key in minted}
        timings["keys"] = time.monotonic() - t0
        pids = wait_for(
            lambda: muster.api_processes("serve"),
            lambda pids: len(pids) == api_processes,
            UP_WITHIN_S,
            muster.tails,
        )
        yield Cluster(
            muster,
            port,
            pids,
            [worker.pid for worker in started],
            uuid.UUID(tenant["id"]),
            {"Authorization": f"Bearer {keys['analyst']}"},
            {"Authorization": f"Bearer {keys['tenant_admin']}"},
            database_url,
            timings | {"up": time.monotonic() - t0},
        )
    finally:
        muster.stop_all(children=pids)
