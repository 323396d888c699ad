"""PostgreSQL stopped for 10 seconds under ingest: clients get 503 problem+json with
`Retry-After` (never a 500, never a hang), nothing is half-written, and once PostgreSQL is
back the same `muster serve` process answers again within seconds and its embedded worker
carries on, without a restart.

The shared server at 127.0.0.1:5432 serves other tests in parallel, so this test makes a
PostgreSQL cluster of its own (`tests.crash.private_postgres`) and stops that one. It is
skipped when the server binaries are missing, unless MUSTER_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from muster.models.enums import Role
from tests.conftest import REQUIRE_PG
from tests.crash.database_state import HALF_WRITTEN, read_stored
from tests.crash.prepared import prepared_tenant
from tests.crash.private_postgres import PrivateCluster, server_binaries
from tests.crash.senders import Outcome, Senders, post_batch
from tests.live.processes import Processes, free_port, health_status, wait_for

SIZE = 200  # alerts per request
CLIENTS = 3
CLIENT_TIMEOUT_S = 5.0  # a request that takes longer counts as a hang
OUTAGE_S = 10.0
RECOVER_WITHIN_S = 5.0  # PostgreSQL accepting again -> the first acknowledged request sent after
LEASE_S = 3  # MUSTER_JOB_LEASE_SECONDS: a job whose release the outage swallowed is re-run after
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
PROBED = ("/health", "/health/ready", "/ui/queue", "/metrics")
RETRY_PAUSE_S = 0.2  # a client's pause before sending a batch answered 503 again


@pytest.fixture()
def cluster() -> Iterator[PrivateCluster]:
    """A running PostgreSQL cluster of this test's own."""
    binaries = server_binaries()
    if binaries is None:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but initdb is missing")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): outage test SKIPPED")
    private = PrivateCluster(binaries, free_port())
    try:
        yield private.create()
    finally:
        private.destroy()


@dataclass(frozen=True, slots=True)
class Probe:
    """One GET of a page other than ingest, and how it was answered."""

    path: str
    status: int | None
    content_type: str
    retry_after: str | None
    text: str


def probe(http: httpx.Client, path: str) -> Probe:
    """GET `path` (no redirects followed) and record the answer."""
    try:
        answer = http.get(path, timeout=CLIENT_TIMEOUT_S)
    except httpx.TransportError:
        return Probe(path, None, "", None, "")
    return Probe(
        path,
        answer.status_code,
        answer.headers.get("content-type", ""),
        answer.headers.get("retry-after"),
        answer.text,
    )


def unavailable(o: Outcome | Probe) -> bool:
    """A 503 that tells the client to come back: `Retry-After` with a number of seconds."""
    return o.status == 503 and (o.retry_after or "").isdigit()


def playbook() -> dict[str, Any]:
    """Tag every new incident: proof that the embedded worker runs."""
    return {
        "name": f"outage-{uuid.uuid4().hex[:8]}",
        "trigger": "incident",
        "steps": [
            {
                "id": "tag",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["worked"]},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


def new_host_alert() -> dict[str, Any]:
    """An alert of a host no incident holds yet: it opens an incident (and a playbook run)."""
    return {"ruleName": "after the outage", "source": "crash", "hostname": uuid.uuid4().hex}


def login(http: httpx.Client, email: str, password: str) -> None:
    """Log in to the web console (the session cookie stays in `http`)."""
    form = http.get("/ui/login")
    token = CSRF_INPUT.search(form.text)
    assert token is not None, form.text
    done = http.post(
        "/ui/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    assert done.status_code == 303, done.text


def unfinished_incidents(url: str) -> int:
    """Incidents whose playbook run has not finished."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT COUNT(*) FROM incidents WHERE soar_status <> 'FINISHED'")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_postgresql_down_for_ten_seconds_answers_503_and_recovers_by_itself(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    env = {
        **os.environ,
        "MUSTER_DATABASE_URL": cluster.url,
        "MUSTER_LOG_LEVEL": "warning",
        "MUSTER_JOB_LEASE_SECONDS": str(LEASE_S),
        "MUSTER_WORKER_POLL_SECONDS": "0.1",
    }
    muster = Processes(env, tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"

    def why() -> str:
        return f"{muster.tails()}\n--- postgresql:\n{cluster.server_log()}"

    try:
        tenant, (email, password) = prepared_tenant(cluster.url)
        tenant_id, analyst = str(tenant.id), tenant.headers(Role.ANALYST)
        server = muster.start("serve", "serve", "--host", "127.0.0.1", "--port", str(port))
        wait_for(lambda: health_status(base_url), lambda s: s == 200, 30, why)
        console = httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_S)
        login(console, email, password)
        saved = console.post(
            "/api/v1/playbooks",
            json=playbook(),
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert saved.status_code == 201, saved.text
        t_setup = time.monotonic()

        # ingest from several clients; stop PostgreSQL for OUTAGE_S while they keep sending
        senders = Senders(
            base_url,
            analyst,
            itertools.count(),
            size=SIZE,
            threads=CLIENTS,
            timeout=CLIENT_TIMEOUT_S,
            retry_pause=RETRY_PAUSE_S,
        ).start()
        wait_for(lambda: len(senders.acknowledged()), lambda n: n >= 10, 30, why)
        t_down = time.monotonic()
        cluster.stop("fast")
        probes: list[tuple[float, Probe]] = []
        while time.monotonic() < t_down + OUTAGE_S:
            probes += [(time.monotonic(), probe(console, path)) for path in PROBED]
            time.sleep(0.5)
        t_up_started = time.monotonic()
        cluster.start()
        t_up = time.monotonic()

        # the same server process answers again within seconds
        def recovered(outcomes: list[Outcome]) -> bool:
            return any(o.acknowledged and o.sent_at >= t_up for o in outcomes)

        wait_for(senders.outcomes, recovered, RECOVER_WITHIN_S, why)
        t_recovered = time.monotonic()
        time.sleep(1.0)
        senders.stop()
        senders.join(CLIENT_TIMEOUT_S + 1)
        assert server.poll() is None, why()
        after = [probe(console, path) for path in PROBED]

        # every answer was a 2xx or a 503 problem+json with Retry-After; nothing hung
        outcomes = senders.outcomes()
        bad = [o for o in outcomes if not o.acknowledged and not unavailable(o)]
        assert bad == [], f"{bad[:3]}\n{why()}"
        refused = [o for o in outcomes if not o.acknowledged]
        assert refused, "no request met the outage"
        assert all(o.content_type == "application/problem+json" for o in refused), refused[:3]
        assert {o.body["code"] for o in refused} == {"database.unavailable"}
        slowest = max(o.answered_at - o.sent_at for o in outcomes)
        assert slowest < CLIENT_TIMEOUT_S

        # while it was down: alive, not ready, the console and metrics say so; then all well
        during = [p for at, p in probes if at > t_down + 1.0]
        assert {p.status for p in during if p.path == "/health"} == {200}
        for path, kind in (("/health/ready", "application/problem+json"), ("/ui/queue", "html")):
            seen = [p for p in during if p.path == path]
            assert seen and all(unavailable(p) and kind in p.content_type for p in seen), seen
        scrapes = [p for p in during if p.path == "/metrics"]
        assert scrapes and all(
            p.status == 200 and "muster_database_up 0.0" in p.text for p in scrapes
        ), scrapes[:1]
        assert [p.status for p in after] == [200, 200, 200, 200], after
        assert "muster_database_up 1.0" in after[-1].text

        # nothing half-written; a refused batch is absent or whole, and once sent again, once
        acknowledged = senders.acknowledged()
        unsettled = {o.batch for o in refused} - acknowledged  # refused when the clients stopped
        stored = read_stored(cluster.url, tenant_id)
        assert stored.half_written == dict.fromkeys(HALF_WRITTEN, 0)
        assert stored.partial(SIZE) == {}
        assert acknowledged <= set(stored.per_batch)
        assert set(stored.per_batch) <= acknowledged | unsettled
        retried = [o for o in outcomes if o.acknowledged and o.batch in {r.batch for r in refused}]
        assert retried, "no batch was acknowledged after a 503"
        assert {o.body["duplicates"] for o in retried} <= {0, SIZE}
        with httpx.Client(base_url=base_url, headers=analyst) as http:
            again = [post_batch(http, b, SIZE, CLIENT_TIMEOUT_S) for b in sorted(unsettled)]
        assert all(o.acknowledged for o in again), again[:3]
        assert [o.body["duplicates"] for o in again] == [
            SIZE if o.batch in stored.per_batch else 0 for o in again
        ]
        final = read_stored(cluster.url, tenant_id)
        sent = acknowledged | unsettled
        assert set(final.per_batch) == sent
        assert final.alerts == final.distinct_external_ids == len(sent) * SIZE
        assert final.partial(SIZE) == {}
        assert final.half_written == dict.fromkeys(HALF_WRITTEN, 0)
        t_checked = time.monotonic()

        # the embedded worker came through: a new incident's playbook runs, and every run the
        # outage interrupted is finished too
        fresh = console.post("/api/v1/alerts", json=new_host_alert(), headers=analyst)
        assert fresh.status_code == 200, fresh.text
        incident = f"/api/v1/incidents/{fresh.json()['items'][0]['incidentId']}"
        tagged = wait_for(
            lambda: console.get(incident, headers=analyst).json(),
            lambda i: i["soarStatus"] == "FINISHED",
            30,
            why,
        )
        assert "worked" in tagged["tags"]
        wait_for(lambda: unfinished_incidents(cluster.url), lambda n: n == 0, 30, why)
        t_worked = time.monotonic()
        log = muster.log("serve")
        for crash in ("unhandled_error", "worker_loop_error", "periodic_task_failed"):
            assert crash not in log, why()
        print(
            f"\nsetup {t_setup - t0:.1f}s, {len(outcomes)} requests "
            f"({len(acknowledged)} acknowledged, {len(refused)} answered 503, slowest "
            f"{slowest:.2f}s), PostgreSQL down {t_up_started - t_down:.1f}s, "
            f"first success {t_recovered - t_up:.1f}s after restart, "
            f"checks {t_checked - t_recovered:.1f}s, every playbook run finished "
            f"{t_worked - t_up:.1f}s after restart, total {time.monotonic() - t0:.1f}s"
        )
    finally:
        muster.stop_all()
