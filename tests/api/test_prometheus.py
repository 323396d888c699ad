"""`GET /metrics` against real servers on SQLite and PostgreSQL.

Counters are per process and the shared test server shares this process with other tests'
servers, so counter checks compare values before and after. Database gauges are checked on a
server of this module's own ("quiet": a fresh database, no embedded worker, so queued jobs
stay queued), which also requires a metrics token.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from muster.models.enums import Role
from muster.worker.jobs import enqueue
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    get_incident,
    list_all,
    patch_incident,
    post_alerts,
    wait_for,
)
from tests.conftest import fresh_database_url, serve
from tests.factories import TenantKeys, alert, make_tenant

TOKEN = "scrape-" + uuid.uuid4().hex
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: httpx.Client, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of one scrape, by (name, sorted labels); the answer must parse."""
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 for a series not there yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def alerts(count: int, **over: Any) -> list[dict[str, Any]]:
    """`count` alerts that each open an incident of their own (distinct hosts)."""
    return [alert(hostname=f"prom-{uuid.uuid4().hex[:10]}", **over) for _ in range(count)]


# ------------------------------------------------------------------ the shared test server


def test_the_exposition_parses_and_holds_every_metric(client: httpx.Client) -> None:
    samples = scrape(client)  # no credentials: open by default
    names = {name for name, _ in samples}
    for name in (
        "muster_alerts_ingested_total",
        "muster_incidents_opened_total",
        "muster_incidents_resolved_total",
        "muster_sla_events_total",
        "muster_soar_step_seconds_bucket",
        "muster_soar_step_seconds_count",
        "muster_webhook_attempts_total",
        "muster_open_incidents",
        "muster_jobs",
        "muster_jobs_oldest_due_age_seconds",
        "muster_database_scrape_seconds",
        "process_cpu_seconds_total",
    ):
        assert name in names, name
    assert value(samples, "muster_database_up") == 1
    assert {labels for name, labels in samples if name == "muster_open_incidents"} == {
        (("severity", str(s)),) for s in (1, 2, 3, 4)
    }
    assert {labels for name, labels in samples if name == "muster_jobs"} == {
        (("state", s),) for s in ("queued", "running", "failed")
    }
    open_metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")


def test_ingested_alerts_are_counted_once_committed(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    before = scrape(client)
    batch = alerts(3)
    assert post_alerts(client, tenant, *batch)["duplicates"] == 0
    assert post_alerts(client, tenant, batch[0])["items"][0]["duplicate"] is True
    refused = client.post(
        "/api/v1/alerts",
        json={"alerts": [*alerts(2), alert(severity=9)]},
        headers=tenant.headers(),
    )
    assert refused.status_code in (400, 422), refused.text  # refused whole: nothing stored
    after = scrape(client)
    stored = "muster_alerts_ingested_total"
    assert value(after, stored, outcome="stored") == value(before, stored, outcome="stored") + 3
    assert value(after, stored, outcome="duplicate") == (
        value(before, stored, outcome="duplicate") + 1
    )


def test_incidents_opened_and_resolved_are_counted(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    opened, resolved = "muster_incidents_opened_total", "muster_incidents_resolved_total"
    before = scrape(client)
    answer = post_alerts(client, tenant, *alerts(2))
    assert answer["incidentsCreated"] == 2
    manual = create_incident(client, tenant, severity=2)
    after_open = scrape(client)
    assert value(after_open, opened) == value(before, opened) + 3
    assert value(after_open, resolved) == value(before, resolved)

    done = {"status": "RESOLVED", "resolution": "FALSE_POSITIVE"}
    assert patch_incident(client, tenant, manual["id"], **done).status_code == 200
    assert patch_incident(client, tenant, manual["id"], status="OPEN").status_code == 200
    assert scrape(client)[(resolved, ())] == value(before, resolved) + 1  # reopening: no change
    assert patch_incident(client, tenant, manual["id"], **done).status_code == 200
    after = scrape(client)
    assert value(after, resolved) == value(before, resolved) + 2
    assert value(after, opened) == value(before, opened) + 3


class _SlowHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        time.sleep(SLOW_S)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


SLOW_S = 0.3


@pytest.fixture()
def slow_api() -> Iterator[str]:
    """A loopback HTTP API that takes SLOW_S to answer; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lookup"
    server.shutdown()
    server.server_close()


def test_playbook_steps_are_timed_by_kind(
    client: httpx.Client, tenant: TenantKeys, slow_api: str
) -> None:
    admin = tenant.headers(Role.TENANT_ADMIN)
    allow = {"settings": {"soarAllowedHosts": ["127.0.0.1"]}}
    assert client.patch(f"/api/v1/tenants/{tenant.id}", json=allow, headers=admin).is_success
    playbook = {
        "name": "timed",
        "trigger": "manual",
        "steps": [
            {
                "id": "tag",
                "kind": "action",
                "action": "add_tags",
                "params": {"tags": ["timed"]},
                "next": "check",
            },
            {
                "id": "check",
                "kind": "condition",
                "branches": [{"when": "severity >= 1", "next": "call"}],
                "else": "done",
            },
            {
                "id": "call",
                "kind": "action",
                "action": "http_request",
                "retries": 0,
                "params": {"url": slow_api},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }
    saved = client.post("/api/v1/playbooks", json=playbook, headers=admin)
    assert saved.status_code == 201, saved.text
    incident_id = post_alerts(client, tenant, *alerts(1))["items"][0]["incidentId"]
    before = scrape(client)
    started = client.post(
        f"/api/v1/incidents/{incident_id}/soar/start",
        json={"playbook": "timed"},
        headers=tenant.headers(),
    )
    assert started.status_code == 202, started.text
    process = wait_for(
        lambda: get_incident(client, tenant, incident_id),
        lambda i: i["soarStatus"] in ("FINISHED", "FAILED"),
    )
    assert process["soarStatus"] == "FINISHED", process
    after = scrape(client)

    def grew(suffix: str, kind: str, **le: str) -> float:
        name = f"muster_soar_step_seconds_{suffix}"
        return value(after, name, kind=kind, **le) - value(before, name, kind=kind, **le)

    # at least: other tests' runs may finish steps in this process at the same time
    assert grew("count", "action") >= 2
    assert grew("count", "condition") >= 1
    assert grew("count", "end") >= 1
    assert grew("sum", "action") >= SLOW_S  # the outside call is part of its step's time
    # buckets are cumulative: the slow call is counted in +Inf but not in le=0.25
    assert grew("bucket", "action", le="+Inf") - grew("bucket", "action", le="0.25") >= 1


# ------------------------------------------------------------------ a quiet server of its own


@pytest.fixture(scope="module")
def quiet_settings(
    backend: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The session settings on a fresh database, without the embedded worker, with a token."""
    with fresh_database_url(backend, f"prom_{uuid.uuid4().hex[:12]}", tmp_path_factory) as url:
        own = Settings(
            **{
                **settings.model_dump(),
                "database_url": url,
                "embedded_worker": False,
                "metrics_token": TOKEN,
            }
        )
        upgrade(own)
        yield own


@pytest.fixture(scope="module")
def quiet_db(quiet_settings: Settings) -> Iterator[Database]:
    database = create_db_engine(quiet_settings)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def quiet(quiet_settings: Settings) -> Iterator[httpx.Client]:
    """A client of the quiet server."""
    with serve(quiet_settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


def open_by_severity(samples: Samples) -> dict[int, float]:
    return {s: value(samples, "muster_open_incidents", severity=str(s)) for s in (1, 2, 3, 4)}


def test_open_incidents_by_severity_match_the_incident_lists(
    quiet: httpx.Client, quiet_db: Database
) -> None:
    first, second = make_tenant(quiet_db), make_tenant(quiet_db)
    before = open_by_severity(scrape(quiet, SCRAPER))
    for who, severities in ((first, (1, 3, 3, 4)), (second, (2, 3, 4, 4))):
        post_alerts(quiet, who, *[alerts(1, severity=s)[0] for s in severities])
    listed = list_all(quiet, "/api/v1/incidents", first.headers(), severity=3)
    done = {"status": "RESOLVED", "resolution": "BENIGN_POSITIVE"}
    assert patch_incident(quiet, first, listed[0]["id"], **done).status_code == 200
    (informational,) = list_all(quiet, "/api/v1/incidents", first.headers(), severity=1)
    working = {"status": "UNDER_INVESTIGATION"}
    assert patch_incident(quiet, first, informational["id"], **working).status_code == 200

    gauge = open_by_severity(scrape(quiet, SCRAPER))
    assert {s: gauge[s] - before[s] for s in gauge} == {1: 1, 2: 1, 3: 2, 4: 3}
    counted = dict.fromkeys((1, 2, 3, 4), 0)
    for who in (first, second):
        for incident in list_all(quiet, "/api/v1/incidents", who.headers(Role.VIEWER)):
            if incident["status"] != "RESOLVED":
                counted[incident["severity"]] += 1
    assert {s: gauge[s] - before[s] for s in gauge} == counted


def test_queue_depth_reflects_queued_jobs(quiet: httpx.Client, quiet_db: Database) -> None:
    before = scrape(quiet, SCRAPER)
    now = SystemClock().now()
    with unit_of_work(quiet_db, SystemContext(), write=True) as session:
        for run_at in (now - timedelta(seconds=90), now + timedelta(hours=1)):
            enqueue(session, "test.prometheus", {}, run_at=run_at, now=now)
    after = scrape(quiet, SCRAPER)
    assert value(after, "muster_jobs", state="queued") == (
        value(before, "muster_jobs", state="queued") + 2
    )
    assert value(after, "muster_jobs", state="running") == value(
        before, "muster_jobs", state="running"
    )
    assert 90 <= value(after, "muster_jobs_oldest_due_age_seconds") < 90 + 60


def test_the_metrics_token_is_required_when_set(quiet: httpx.Client, quiet_db: Database) -> None:
    keys = make_tenant(quiet_db)
    for headers in (None, {"Authorization": "Bearer wrong"}, keys.headers(Role.TENANT_ADMIN)):
        refused = quiet.get("/metrics", headers=headers)
        assert_problem(refused, 401, "auth.unauthenticated")
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "muster_" not in refused.text
    assert value(scrape(quiet, SCRAPER), "muster_database_up") == 1


# ------------------------------------------------------------------ no database at all


def test_process_metrics_are_served_when_the_database_is_unreachable(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    missing = tmp_path_factory.mktemp("nodb") / "absent" / "muster.db"  # directory absent
    down = Settings(
        database_url=f"sqlite:///{missing}", embedded_worker=False, gc_young_collection_every=0
    )
    with serve(down) as url, httpx.Client(base_url=url, timeout=30) as http:
        samples = scrape(http)
    assert value(samples, "muster_database_up") == 0
    assert ("muster_open_incidents", (("severity", "1"),)) not in samples
    assert ("muster_alerts_ingested_total", (("outcome", "stored"),)) in samples
