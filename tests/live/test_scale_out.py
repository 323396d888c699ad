"""Scale-out on PostgreSQL: `muster serve --workers 4` and three `muster worker` processes
share one database while 100 concurrent clients send overlapping alerts.

Everything is real and runs as in production (docs/deployment.md): `muster db upgrade`,
`tenant create` and `apikey create` as subprocesses, one `muster serve --workers 4` (four
uvicorn processes, no embedded worker), three `muster worker` processes, a playbook saved
through the API that comments, posts a webhook to a loopback receiver in this process and
comments again on every new incident. The clients send 20 grouping keys' alerts, each
`externalId` by several clients at once (singles and batches); every key's first alert is sent
by five clients at the same instant, so the processes race to open its incident.

The outcome is read back from the database and the API: every alert stored once with the
occurrences acknowledged, one open incident per key holding all of its alerts, every run
finished with each step once in effect, and the load spread over several API processes.
PostgreSQL only: skipped when no server answers, unless MUSTER_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from muster.config import Settings
from muster.db import SystemContext, TenantContext, create_db_engine, unit_of_work
from muster.models import Alert, Comment, Incident, SoarStepLog
from muster.worker.jobs import DONE, JOBS
from tests.api.apicalls import list_all
from tests.conftest import REQUIRE_PG, _pg_reachable, fresh_database_url
from tests.factories import alert
from tests.live.cluster import Cluster, running_cluster
from tests.live.processes import connections_by_process, wait_for
from tests.live.receiver import Hook, Receiver, serving

API_PROCESSES = 4
WORKERS = 3
CLIENTS = 100
KEYS = 20  # grouping keys: one host each
IDS_PER_KEY = 15  # distinct externalIds per key (id 0 is the key's "hot" first alert)
SENDS_PER_ID = 3  # clients that send each of the other ids
SEED = 9
RULE = "Scale-out test detection"
SOURCE = "scale-out"
FAIL_FIRST_EVERY = 3  # the receiver answers 503 to the first request of every third key
STEPS = ["before", "notify", "after", "done"]
ENDED = {"FINISHED", "FAILED", "CANCELLED"}
COMMENTS = ["before the webhook", "after the webhook"]  # what the playbook's comment steps say
ONCE_ON_TIMELINE = {"comment.added": 2, "soar.selected": 1, "soar.finished": 1}  # per incident

# ------------------------------------------------------------------ what the clients send


def host(key: int) -> str:
    """The hostname that makes grouping key `key`."""
    return f"scale-{key:02d}.corp.example"


def alert_body(key: int, number: int) -> dict[str, Any]:
    """Alert `number` of grouping key `key`: the same body whoever sends it."""
    return alert(
        ruleName=RULE,
        source=SOURCE,
        hostname=host(key),
        externalId=f"scale-{key:02d}-{number:02d}",
        severity=1 + number % 4,
    )


def plan(seed: int) -> list[list[Any]]:
    """Each client's request bodies, in order: first its key's hot alert alone (client n
    sends key n % KEYS, so five clients open with the same alert at once), then its share of
    the other alerts, each sent by SENDS_PER_ID clients, in singles and batches."""
    rng = random.Random(seed)
    sends = [
        (key, number)
        for key in range(KEYS)
        for number in range(1, IDS_PER_KEY)
        for _ in range(SENDS_PER_ID)
    ]
    rng.shuffle(sends)
    bodies: list[list[Any]] = [[alert_body(n % KEYS, 0)] for n in range(CLIENTS)]
    for client in range(CLIENTS):
        share = sends[client::CLIENTS]
        while share:
            size = min(rng.choice((1, 1, 2, 3, 5)), len(share))
            chunk, share = share[:size], share[size:]
            alerts = [alert_body(*send) for send in chunk]
            bodies[client].append(alerts[0] if size == 1 else {"alerts": alerts})
    return bodies


def alerts_of(body: Any) -> list[dict[str, Any]]:
    """The alerts a request body carries."""
    return list(body["alerts"]) if "alerts" in body else [body]


@dataclass(frozen=True)
class Answered:
    """One request and the answer it got."""

    body: Any
    status: int
    answer: Any


# ------------------------------------------------------------------ the playbook and its receiver


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    """The webhook receiver, answering 503 to the first request of every third run."""
    with serving(Receiver(fail_first_every=FAIL_FIRST_EVERY)) as running:
        yield running


def playbook(url: str) -> dict[str, Any]:
    """comment -> send_webhook (retried) -> comment -> end, on every new incident."""
    return {
        "name": "scale-out",
        "trigger": "incident",
        "steps": [
            {
                "id": "before",
                "kind": "action",
                "action": "comment",
                "params": {"body": COMMENTS[0]},
                "next": "notify",
            },
            {
                "id": "notify",
                "kind": "action",
                "action": "send_webhook",
                "params": {"url": url},
                "retries": 2,
                "next": "after",
            },
            {
                "id": "after",
                "kind": "action",
                "action": "comment",
                "params": {"body": COMMENTS[1]},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


# ------------------------------------------------------------------ the deployment


@pytest.fixture()
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL schema (this test is about PostgreSQL alone)."""
    if not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable: scale-out test SKIPPED")
    with fresh_database_url(
        "postgresql", f"scale_{uuid.uuid4().hex[:12]}", tmp_path_factory
    ) as url:
        yield url


@pytest.fixture()
def cluster(database_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Four API processes and three workers on the fresh schema."""
    with running_cluster(
        database_url, tmp_path, api_processes=API_PROCESSES, workers=WORKERS
    ) as running:
        yield running


# ------------------------------------------------------------------ driving the clients


def drive(cluster: Cluster, bodies: list[list[Any]]) -> tuple[list[Answered], set[int]]:
    """Run one thread per client, all starting at once, each with its own connection; return
    every answer and the API processes that held a client connection meanwhile."""
    start = threading.Barrier(CLIENTS)

    def client(requests: list[Any]) -> list[Answered]:
        answered = []
        with httpx.Client(base_url=cluster.base_url, timeout=60) as http:
            start.wait(30)
            for body in requests:
                reply = http.post("/api/v1/alerts", json=body, headers=cluster.analyst)
                is_json = "json" in reply.headers.get("content-type", "")
                answer = reply.json() if is_json else reply.text
                answered.append(Answered(body, reply.status_code, answer))
        return answered

    served: set[int] = set()
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, requests) for requests in bodies]
        while not all(future.done() for future in futures):
            held = connections_by_process(cluster.api_pids, cluster.port)
            served |= {pid for pid, count in held.items() if count}
            time.sleep(0.05)
        return [a for future in futures for a in future.result()], served


# ------------------------------------------------------------------ the test


def test_four_api_processes_and_three_workers_keep_overlapping_alerts_consistent(
    cluster: Cluster, receiver: Receiver
) -> None:
    t0 = time.monotonic()
    api = httpx.Client(base_url=cluster.base_url, timeout=30)
    try:
        allowed = api.patch(
            f"/api/v1/tenants/{cluster.tenant_id}",
            json={"settings": {"soarAllowedHosts": ["127.0.0.1"]}},
            headers=cluster.admin,
        )
        assert allowed.status_code == 200, allowed.text
        saved = api.post("/api/v1/playbooks", json=playbook(receiver.url), headers=cluster.admin)
        assert saved.status_code == 201, saved.text

        bodies = plan(SEED)
        answered, served = drive(cluster, bodies)
        t_ingested = time.monotonic()
        check_answers(answered)
        assert len(served) >= 2, f"only {served} of {cluster.api_pids} took connections"
        incidents = check_stored(cluster, answered)
        check_api_incidents(api, cluster, incidents)

        processes = wait_for(
            lambda: runs(api, cluster),
            lambda found: len(found) >= KEYS and all(r["status"] in ENDED for r in found),
            45,
            cluster.muster.tails,
        )
        t_finished = time.monotonic()
        check_runs(api, cluster, processes, incidents, receiver)
    finally:
        api.close()
    requests = sum(len(b) for b in bodies)
    print(
        f"\n[scale-out] setup: migrated {cluster.timings['migrated']:.1f}s, tenant and keys "
        f"{cluster.timings['keys']:.1f}s, API up {cluster.timings['up']:.1f}s; {requests} requests "
        f"({len(answered_alerts(answered))} alerts) from {CLIENTS} clients in "
        f"{t_ingested - t0:.1f}s over API processes {sorted(served)}, runs finished "
        f"{t_finished - t_ingested:.1f}s later, test body {time.monotonic() - t0:.1f}s"
    )


def runs(api: httpx.Client, cluster: Cluster) -> list[dict[str, Any]]:
    """The tenant's playbook runs (all of them: far fewer than one page)."""
    reply = api.get("/api/v1/soar/processes", params={"limit": 500}, headers=cluster.analyst)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def answered_alerts(answered: list[Answered]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every alert sent, with the item its answer gave for it."""
    return [
        (sent, item)
        for a in answered
        for sent, item in zip(alerts_of(a.body), a.answer["items"], strict=True)
    ]


def check_answers(answered: list[Answered]) -> None:
    """Every request 200; every externalId got one alert id, one incident, one first store."""
    failed = [(a.status, a.answer) for a in answered if a.status != 200]
    assert not failed, failed[:5]
    ids: dict[str, set[str]] = defaultdict(set)
    incidents: dict[str, set[str]] = defaultdict(set)
    firsts: Counter[str] = Counter()
    for sent, item in answered_alerts(answered):
        ids[sent["externalId"]].add(item["alertId"])
        incidents[sent["externalId"]].add(item["incidentId"])
        firsts[sent["externalId"]] += not item["duplicate"]
    assert len(ids) == KEYS * IDS_PER_KEY
    assert {ext: len(found) for ext, found in ids.items() if len(found) != 1} == {}
    assert {ext: len(found) for ext, found in incidents.items() if len(found) != 1} == {}
    assert {ext: n for ext, n in firsts.items() if n != 1} == {}


def check_stored(cluster: Cluster, answered: list[Answered]) -> dict[str, uuid.UUID]:
    """From the database: each externalId stored once with its acknowledged occurrences, one
    open incident per grouping key holding exactly its key's alerts; the incident per host."""
    sent = Counter(alert["externalId"] for alert, _ in answered_alerts(answered))
    db = create_db_engine(Settings(database_url=cluster.database_url, database_pool_size=1))
    try:
        with unit_of_work(db, TenantContext(cluster.tenant_id)) as session:
            rows = session.execute(
                select(Alert.external_id, Alert.occurrences, Alert.hostname, Alert.incident_id)
            ).all()
            open_by_key = session.execute(
                select(Incident.grouping_key, func.count())
                .where(Incident.status != "RESOLVED")
                .group_by(Incident.grouping_key)
            ).all()
            incidents = session.execute(select(Incident.id, Incident.alert_count)).all()
    finally:
        db.dispose()
    assert Counter(ext for ext, *_ in rows) == Counter(set(sent))  # each once, none lost
    assert {ext: n for ext, n, *_ in rows} == dict(sent)  # occurrences = acknowledged sends
    by_host: dict[str, set[uuid.UUID]] = defaultdict(set)
    for _, _, hostname, incident_id in rows:
        by_host[hostname].add(incident_id)
    assert sorted(by_host) == [host(k) for k in range(KEYS)]
    assert {h: ids for h, ids in by_host.items() if len(ids) != 1} == {}
    assert len(open_by_key) == KEYS and all(n == 1 for _, n in open_by_key), open_by_key
    assert sorted(n for _, n in incidents) == [IDS_PER_KEY] * KEYS
    return {hostname: ids.pop() for hostname, ids in by_host.items()}


def check_api_incidents(
    api: httpx.Client, cluster: Cluster, incidents: dict[str, uuid.UUID]
) -> None:
    """The API lists the same incidents, each with all of its key's alerts."""
    listed = list_all(api, "/api/v1/incidents", cluster.analyst, limit=500)
    assert sorted(i["id"] for i in listed) == sorted(str(i) for i in incidents.values())
    assert {i["alertCount"] for i in listed} == {IDS_PER_KEY}
    for hostname, incident_id in incidents.items():
        alerts = list_all(
            api, "/api/v1/alerts", cluster.analyst, incidentId=str(incident_id), limit=500
        )
        assert {a["hostname"] for a in alerts} == {hostname}
        assert len(alerts) == IDS_PER_KEY


def check_runs(
    api: httpx.Client,
    cluster: Cluster,
    processes: list[dict[str, Any]],
    incidents: dict[str, uuid.UUID],
    receiver: Receiver,
) -> None:
    """One finished run per incident, each step once in its log, on the timeline, in the
    database and at the receiver (a repeated idempotency key only after a 503)."""
    assert sorted(p["incidentId"] for p in processes) == sorted(map(str, incidents.values()))
    unfinished = [p for p in processes if p["status"] != "FINISHED"]
    assert not unfinished, [(p["status"], p["currentStepId"], p["error"]) for p in unfinished]
    for process in processes:
        detail = api.get(f"/api/v1/soar/processes/{process['id']}", headers=cluster.analyst)
        assert detail.status_code == 200, detail.text
        steps = [(s["stepId"], s["outcome"]) for s in detail.json()["steps"]]
        assert steps == [(step, "ok") for step in STEPS], steps
        entries = api.get(
            f"/api/v1/incidents/{process['incidentId']}/timeline", headers=cluster.analyst
        ).json()
        actions = Counter(e["action"] for e in entries)
        once = {name: actions[name] for name in ONCE_ON_TIMELINE}
        assert once == ONCE_ON_TIMELINE, entries
    check_webhooks(receiver, processes)
    check_recorded(cluster, incidents)


def check_webhooks(receiver: Receiver, processes: list[dict[str, Any]]) -> None:
    """One idempotency key per run's webhook step, sent again only after a 503."""
    by_key: dict[str, list[Hook]] = defaultdict(list)
    for hook in receiver.received():
        by_key[hook.idempotency_key].append(hook)
    assert sorted(hooks[0].process_id for hooks in by_key.values()) == sorted(
        p["id"] for p in processes
    )  # one key per run (the webhook step)
    for key, hooks in by_key.items():
        assert {(h.process_id, h.step_id, h.incident_id) for h in hooks} == {
            (hooks[0].process_id, "notify", hooks[0].incident_id)
        }
        assert key.startswith(f"{hooks[0].process_id}:")
        expected = [503, 200] if key in receiver.failed_keys else [200]
        assert [h.status for h in hooks] == expected, (key, hooks)
    assert receiver.failed_keys, "no webhook was retried: the retry path went untested"


def check_recorded(cluster: Cluster, incidents: dict[str, uuid.UUID]) -> None:
    """From the database: each step logged once per run, each comment written once, every job
    done at its first attempt by one of the workers, and by more than one worker in all."""
    db = create_db_engine(Settings(database_url=cluster.database_url, database_pool_size=1))
    try:
        with unit_of_work(db, TenantContext(cluster.tenant_id)) as session:
            logged = Counter(
                session.execute(select(SoarStepLog.process_id, SoarStepLog.step_id)).all()
            )
            comments: dict[uuid.UUID, list[str]] = defaultdict(list)
            for incident_id, body in session.execute(
                select(Comment.incident_id, Comment.body).order_by(Comment.created_at)
            ):
                comments[incident_id].append(body)
        with unit_of_work(db, SystemContext()) as session:
            jobs = session.connection().execute(
                select(JOBS.c.state, JOBS.c.attempts, JOBS.c.last_error, JOBS.c.locked_by).where(
                    JOBS.c.tenant_id == cluster.tenant_id
                )
            )
            states, workers = Counter[tuple[str, int, str | None]](), Counter[int]()
            for state, attempts, error, locked_by in jobs:
                states[state, attempts, error] += 1
                workers.update(pid for pid in cluster.worker_pids if f":{pid}:" in locked_by)
    finally:
        db.dispose()
    assert len(logged) == KEYS * len(STEPS) and set(logged.values()) == {1}, logged
    assert comments == {incident_id: COMMENTS for incident_id in incidents.values()}, comments
    # each job done at its first attempt: no transaction of a run failed and was retried
    assert set(states) == {(DONE, 1, None)}, states
    assert workers.total() == states.total(), "a job done by none of the workers"
    assert len(workers) >= 2, f"one worker ran every job: {workers}"
