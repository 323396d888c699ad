"""`kill -9` of the API in the middle of a 100,000-alert ingest loses nothing it acknowledged
and leaves no batch half-written; the restarted server carries on where the clients left off.

Everything is real: the test migrates a fresh database and makes a tenant with a key, then
`muster serve` as a subprocess (one process: uvicorn serves in the process it starts in) takes
batches of 1,000 alerts from several client threads and is killed with SIGKILL once about a
third of the batches are acknowledged, while others are in flight. The server is then
started again on the database as the crash left it (SQLite replays its WAL by itself when the
file is opened), the test reads what is stored, and the clients send what was not acknowledged
plus some acknowledged batches once more, which must come back as duplicates. Runs on a
fresh SQLite file and on a fresh PostgreSQL schema (skipped when no server answers, unless
MUSTER_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from muster.models.enums import Role
from tests.crash.database_state import HALF_WRITTEN, read_stored
from tests.crash.prepared import prepared_tenant
from tests.crash.senders import Senders
from tests.live.processes import Processes, free_port, health_status, wait_for

BATCHES = 100
SIZE = 1_000  # alerts per request: 100,000 in all
CLIENTS = 4
KILL_AFTER = BATCHES // 3  # acknowledged batches before the kill
RESEND_ACKNOWLEDGED = 5  # acknowledged batches sent once more after the restart
CLIENT_TIMEOUT_S = 30.0


def test_an_api_killed_mid_ingest_keeps_every_acknowledged_batch_and_no_partial_one(
    own_database_url: str, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    env = {**os.environ, "MUSTER_DATABASE_URL": own_database_url, "MUSTER_LOG_LEVEL": "warning"}
    muster = Processes(env, tmp_path)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    serve = ("serve", "--host", "127.0.0.1", "--port", str(port))
    try:
        tenant, _ = prepared_tenant(own_database_url)
        tenant_id, headers = str(tenant.id), tenant.headers(Role.ANALYST)
        server = muster.start("serve-1", *serve)
        wait_for(lambda: health_status(base_url), lambda s: s == 200, 30, muster.tails)
        t_up = time.monotonic()

        # several clients ingest; SIGKILL once a third is acknowledged, requests in flight
        senders = Senders(
            base_url,
            headers,
            iter(range(BATCHES)),
            size=SIZE,
            threads=CLIENTS,
            timeout=CLIENT_TIMEOUT_S,
        ).start()
        wait_for(lambda: len(senders.acknowledged()), lambda n: n >= KILL_AFTER, 60, muster.tails)
        in_flight = senders.stop()
        os.kill(server.pid, signal.SIGKILL)
        assert server.wait(10) == -signal.SIGKILL
        t_killed = time.monotonic()
        senders.join(CLIENT_TIMEOUT_S)
        outcomes = senders.outcomes()
        acknowledged = senders.acknowledged()
        cut_off = {o.batch for o in outcomes if o.status is None}
        assert in_flight and cut_off, "the kill caught no request in flight"
        assert cut_off <= in_flight
        answered_badly = [o for o in outcomes if o.status is not None and not o.acknowledged]
        assert answered_badly == [], answered_badly[:3]

        if own_database_url.startswith("sqlite:///"):  # a clean close would have removed the log
            assert Path(own_database_url.removeprefix("sqlite:///") + "-wal").exists()

        # restarted on the same database, the server opens it as the crash left it (SQLite
        # replays its log by itself) and is ready
        muster.start("serve-2", *serve)
        wait_for(
            lambda: health_status(base_url, "/health/ready"), lambda s: s == 200, 30, muster.tails
        )
        t_restarted = time.monotonic()

        # every acknowledged batch whole, no batch in part, nothing half-written
        crashed = read_stored(own_database_url, tenant_id)
        assert crashed.half_written == dict.fromkeys(HALF_WRITTEN, 0)
        assert crashed.partial(SIZE) == {}
        present = set(crashed.per_batch)
        assert acknowledged <= present, sorted(acknowledged - present)
        # committed but never answered: only batches whose answer the kill cut off
        assert present - acknowledged <= cut_off, sorted(present - acknowledged)
        assert crashed.alerts == crashed.distinct_external_ids == len(present) * SIZE

        # the clients send the rest, and some acknowledged batches again: repeats are repeats
        again = sorted(acknowledged)[:: max(1, len(acknowledged) // RESEND_ACKNOWLEDGED)]
        rest = sorted(set(range(BATCHES)) - acknowledged)
        resend = Senders(
            base_url,
            headers,
            iter(rest + again),
            size=SIZE,
            threads=CLIENTS,
            timeout=CLIENT_TIMEOUT_S,
        ).start()
        resend.join(120)
        answers = {o.batch: o for o in resend.outcomes()}
        assert sorted(answers) == sorted(rest + again)
        failed = [o for o in answers.values() if not o.acknowledged]
        assert failed == [], f"{failed[:3]}\n{muster.tails()}"
        for batch, answer in answers.items():
            expected = SIZE if batch in present else 0
            assert answer.body["duplicates"] == expected, (batch, batch in present)
            assert answer.body["alerts"] == SIZE
        t_done = time.monotonic()

        final = read_stored(own_database_url, tenant_id)
        assert final.alerts == final.distinct_external_ids == BATCHES * SIZE
        assert set(final.per_batch) == set(range(BATCHES))
        assert final.partial(SIZE) == {}
        assert final.half_written == dict.fromkeys(HALF_WRITTEN, 0)
        repeats = [batch for batch in answers if batch in present]
        assert final.occurrences == BATCHES * SIZE + len(repeats) * SIZE
        print(
            f"\n[{own_database_url.split(':', 1)[0]}] setup {t_up - t0:.1f}s, "
            f"{len(acknowledged)} batches acknowledged -> kill {t_killed - t_up:.1f}s "
            f"({len(cut_off)} cut off, {len(present - acknowledged)} of them committed), "
            f"restart {t_restarted - t_killed:.1f}s, "
            f"{len(answers)} batches re-sent {t_done - t_restarted:.1f}s, "
            f"total {time.monotonic() - t0:.1f}s"
        )
    finally:
        muster.stop_all()
