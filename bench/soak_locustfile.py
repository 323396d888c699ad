"""Locust users for `bench/soak.py`: the soak's mixed load, and the no-op ceiling.

`SoakUser` is one analyst console or integration, paced at `--soak-user-rate` task runs per
second (locust's `constant_throughput`), so the offered load is fixed and the server's
answer shows as latency, or as throughput falling short of it. Task weights (of 100 task
runs; a task may send two requests):

| weight | task: requests (name = kind in the figures) |
|---|---|
| 20 | a product forwards one alert: `POST /alerts` (`ingest single`) |
| 4 | a forwarder's batch of 10-100 alerts: `POST /alerts` (`ingest batch`) |
| 25 | the queue with a filter: `GET /incidents` (`list incidents`); half the time the next |
|    | page through `nextCursor` (`list incidents (next page)`) |
| 15 | open an incident: `GET /incidents/{id}` (`read incident`) |
| 10 | triage: `GET /incidents/{id}` for its ETag (`read incident`), then `PATCH` status, |
|    | assignee or resolution with `If-Match` (`update incident`) |
| 10 | a note: `POST /incidents/{id}/comments` (`comment`) |
| 10 | the automation view: `GET /soar/processes` (`list soar processes`) |
| 6 | one run with its step log: `GET /soar/processes/{id}` (`read soar process`) |

Alerts come from `workload.AlertFactory` (skewed rules and hosts), folded onto its first
`RULE_COUNT` rules and `HOST_COUNT` hosts: grouping keys repeat, so incidents grow (about
one new incident per 20-50 alerts once the keys are known, as grouping does on real
streams); `NEW_HOST_SHARE` of the alerts name a host never seen before, resolved incidents
take no more alerts and an incident holds at most 500, so new incidents (and playbook runs)
keep opening. A `PATCH` that loses a race (`412`: the playbook or another user changed the
incident) counts as success and is tallied under `conflicts`.

`SeedUser` (run alone, one user) sends `--soak-seed-alerts` alerts of the same shape in
batches of 500 and ends the run: the soak starts with the grouping keys known, not from an
empty database where nearly every alert opens an incident.

`HealthUser` requests `GET /health` back to back: the ceiling of this load generator and
server on this machine.

Every request's latency also goes into a histogram per (`--soak-bucket-seconds` bucket,
name), written as JSON to `--soak-latency-file` when the test stops: exact per-window
percentiles for `soak.py` (locust's CSV history holds only 10-s sliding percentiles). So
are the exceptions a task raised (`userErrors`), which locust does not count as failures.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.env import Environment
from locust.event import EventHook

from workload import HOSTS, RULES, AlertFactory

INGEST_SINGLE = "ingest single"
INGEST_BATCH = "ingest batch"
LIST = "list incidents"
LIST_NEXT = "list incidents (next page)"
READ = "read incident"
UPDATE = "update incident"
COMMENT = "comment"
SOAR_LIST = "list soar processes"
SOAR_READ = "read soar process"
HEALTH = "health"

RULE_COUNT, HOST_COUNT = 20, 60
NEW_HOST_SHARE = 0.02
SEED_BATCH = 500
RESOLUTIONS = ("TRUE_POSITIVE", "BENIGN_POSITIVE", "FALSE_POSITIVE", "UNDETERMINED")
LIST_QUERIES: tuple[dict[str, Any], ...] = (
    {"status": "OPEN"},
    {"status": ["OPEN", "UNDER_INVESTIGATION"], "severity": [3, 4]},
    {"assignee": "unassigned", "sort": "-updatedAt"},
    {"filter": 'soarStatus = "FINISHED" and severity >= 2'},
    {"source": "CrowdStrike Falcon"},
    {"tag": "triaged", "sort": "severity"},
    {},
)
SOAR_QUERIES: tuple[dict[str, Any], ...] = ({}, {"status": "FINISHED"}, {"status": "RUNNING"})

# Shared by every user of this (single, gevent) process: ids seen in answers.
RECENT_INCIDENTS: deque[str] = deque(maxlen=5000)
RECENT_PROCESSES: deque[str] = deque(maxlen=2000)
USER_NUMBERS = count()


class LatencyRecorder:
    """Latency histograms per (bucket start, request name), rounded to 2-3 significant digits."""

    def __init__(self) -> None:
        self.bucket_seconds = 10
        self.histograms: dict[tuple[int, str], Counter[float]] = {}
        self.failures: Counter[tuple[int, str]] = Counter()
        self.conflicts: Counter[int] = Counter()
        self.user_errors: Counter[str] = Counter()
        self.spawning_complete_at: float | None = None

    def bucket(self, at: float) -> int:
        """Start (epoch seconds) of the bucket that holds `at`."""
        return int(at // self.bucket_seconds) * self.bucket_seconds

    def record(self, name: str, ms: float, failed: bool) -> None:
        """Count one request that ended now."""
        key = (self.bucket(time.time()), name)
        self.histograms.setdefault(key, Counter())[rounded(ms)] += 1
        if failed:
            self.failures[key] += 1

    def as_json(self) -> dict[str, Any]:
        """Everything recorded, for `soak.py`."""
        return {
            "bucketSeconds": self.bucket_seconds,
            "spawningCompleteAt": self.spawning_complete_at,
            "stoppedAt": time.time(),
            "buckets": [
                {
                    "start": start,
                    "name": name,
                    "failures": self.failures[(start, name)],
                    "histogram": [[ms, n] for ms, n in sorted(hist.items())],
                }
                for (start, name), hist in sorted(self.histograms.items())
            ],
            "conflicts": [[start, n] for start, n in sorted(self.conflicts.items())],
            "userErrors": dict(self.user_errors),
        }


def rounded(ms: float) -> float:
    """`ms` kept to 0.1 ms below 10 ms, 1 ms below 100 ms, then 2 significant digits."""
    if ms < 10:
        return round(ms, 1)
    if ms < 100:
        return float(round(ms))
    return float(round(ms, -1 if ms < 1000 else -2))


RECORDER = LatencyRecorder()


def _arguments(parser: Any) -> None:
    parser.add_argument("--soak-api-key", env_var="SOAK_API_KEY", default="", help="analyst key")
    parser.add_argument(
        "--soak-assignees", env_var="SOAK_ASSIGNEES", default="", help="members, comma-separated"
    )
    parser.add_argument("--soak-user-rate", type=float, default=4.0, help="task runs/s per user")
    parser.add_argument("--soak-latency-file", default="", help="where the histograms go (JSON)")
    parser.add_argument("--soak-bucket-seconds", type=int, default=10)
    parser.add_argument("--soak-seed", type=int, default=1)
    parser.add_argument("--soak-seed-alerts", type=int, default=10_000, help="SeedUser sends")


def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None:
        RECORDER.bucket_seconds = options.soak_bucket_seconds
        random.seed(options.soak_seed)


def _request(name: str, response_time: float, exception: Exception | None, **_: Any) -> None:
    RECORDER.record(name, response_time, exception is not None)


def _user_error(exception: Exception, **_: Any) -> None:
    RECORDER.user_errors[f"{type(exception).__name__}: {exception}"[:200]] += 1


def _spawned(**_: Any) -> None:
    RECORDER.spawning_complete_at = time.time()


def _stopped(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None and options.soak_latency_file:
        weights = Counter(getattr(t, "__name__", str(t)) for t in SoakUser.tasks)
        with open(options.soak_latency_file, "w") as out:
            json.dump({**RECORDER.as_json(), "weights": weights}, out)


def _listen(hook: EventHook, listener: Callable[..., None]) -> None:
    """`listener` runs on `hook` (locust's `add_listener` has no type hints)."""
    hook.add_listener(listener)  # type: ignore[no-untyped-call]


_listen(events.init_command_line_parser, _arguments)
_listen(events.init, _init)
_listen(events.request, _request)
_listen(events.user_error, _user_error)
_listen(events.spawning_complete, _spawned)
_listen(events.test_stop, _stopped)


class AlertSource:
    """Alerts of the soak's shape (module docstring), unique per source."""

    def __init__(self, seed: int, prefix: str) -> None:
        self.factory = AlertFactory(seed, f"{prefix}-{time.time():.0f}")
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.new_hosts = count()

    def alert(self) -> dict[str, Any]:
        """One alert: a known rule and host, or (a few) a host never seen before."""
        now = datetime.now(UTC) - timedelta(seconds=self.rng.random() * 30)
        rule, host, user = self.factory.pick()
        rule = RULES[RULES.index(rule) % RULE_COUNT]
        host = HOSTS[HOSTS.index(host) % HOST_COUNT]
        payload = self.factory.payload(now, (rule, host, user))
        if self.rng.random() < NEW_HOST_SHARE:
            new = f"new-{self.prefix}-{next(self.new_hosts)}.corp.example"
            payload["hostname"] = new
            payload["description"] = payload["description"].replace(host, new)
            payload["entities"] = [{"type": "host", "value": new}, payload["entities"][1]]
        return payload


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SoakUser(FastHttpUser):
    """One console or integration, paced; the mix is in the module docstring."""

    def on_start(self) -> None:
        """Credentials, pacing and an alert generator of this user's own."""
        options = self.environment.parsed_options
        assert options is not None and options.soak_api_key, "--soak-api-key is required"
        self.headers = {"Authorization": f"Bearer {options.soak_api_key}"}
        self.assignees = [a for a in options.soak_assignees.split(",") if a]
        self.pace: Callable[[Any], float] = constant_throughput(options.soak_user_rate)
        number = next(USER_NUMBERS)
        self.alerts = AlertSource(options.soak_seed * 1000 + number, f"soak{number}")
        self.number = number

    def wait_time(self) -> float:
        """Seconds until the next task run keeps this user at its rate."""
        return self.pace(self)

    # ------------------------------------------------------------------ ingest

    def _ingest(self, body: dict[str, Any], name: str) -> None:
        with self.client.post(
            "/api/v1/alerts", json=body, headers=self.headers, name=name, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")
                return
            RECENT_INCIDENTS.extend(item["incidentId"] for item in resp.json()["items"][:5])

    @task(20)
    def ingest_single(self) -> None:
        """A product forwards one alert."""
        self._ingest(self.alerts.alert(), INGEST_SINGLE)

    @task(4)
    def ingest_batch(self) -> None:
        """A forwarder sends what it collected: 10-100 alerts."""
        alerts = [self.alerts.alert() for _ in range(random.randint(10, 100))]
        self._ingest({"alerts": alerts}, INGEST_BATCH)

    # ------------------------------------------------------------------ incidents

    @task(25)
    def list_incidents(self) -> None:
        """A queue page with a filter; half the time the next page too."""
        params = dict(random.choice(LIST_QUERIES), limit=50)
        page = self._get_json("/api/v1/incidents", LIST, params)
        if page is None:
            return
        RECENT_INCIDENTS.extend(item["id"] for item in page["items"][:10])
        if page.get("nextCursor") and random.random() < 0.5:
            params["cursor"] = page["nextCursor"]
            self._get_json("/api/v1/incidents", LIST_NEXT, params)

    @task(15)
    def read_incident(self) -> None:
        """An analyst opens an incident."""
        if RECENT_INCIDENTS:
            self._get_json(f"/api/v1/incidents/{random.choice(RECENT_INCIDENTS)}", READ)

    @task(10)
    def update_incident(self) -> None:
        """Read, then move the incident on (investigate, resolve, reopen) under If-Match."""
        if not RECENT_INCIDENTS:
            return
        incident_id = random.choice(RECENT_INCIDENTS)
        with self.client.get(
            f"/api/v1/incidents/{incident_id}", headers=self.headers, name=READ, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")
                return
            current, etag = resp.json(), resp.headers.get("ETag", "")
        with self.client.patch(
            f"/api/v1/incidents/{incident_id}",
            json=self._change(current),
            headers={**self.headers, "If-Match": etag},
            name=UPDATE,
            catch_response=True,
        ) as resp:
            if resp.status_code == 412:  # lost a race with SOAR or another user: not an error
                RECORDER.conflicts[RECORDER.bucket(time.time())] += 1
                resp.success()
            elif resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")

    def _change(self, incident: dict[str, Any]) -> dict[str, Any]:
        """A lifecycle step that is valid from the incident's current status."""
        status = incident["status"]
        if status == "OPEN":
            return {"status": "UNDER_INVESTIGATION", "assignee": random.choice(self.assignees)}
        if status == "UNDER_INVESTIGATION":
            if random.random() < 0.3:
                return {"assignee": random.choice(self.assignees)}
            return {"status": "RESOLVED", "resolution": random.choice(RESOLUTIONS)}
        return {"status": "OPEN"} if random.random() < 0.2 else {"tags": ["reviewed"]}

    @task(10)
    def comment(self) -> None:
        """An analyst writes a note."""
        if not RECENT_INCIDENTS:
            return
        with self.client.post(
            f"/api/v1/incidents/{random.choice(RECENT_INCIDENTS)}/comments",
            json={"body": f"checked by soak user {self.number} at {_iso(datetime.now(UTC))}"},
            headers=self.headers,
            name=COMMENT,
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")

    # ------------------------------------------------------------------ SOAR

    @task(10)
    def list_soar_processes(self) -> None:
        """The automation view: recent playbook runs."""
        params = dict(random.choice(SOAR_QUERIES), limit=50)
        page = self._get_json("/api/v1/soar/processes", SOAR_LIST, params)
        if page is not None:
            RECENT_PROCESSES.extend(item["id"] for item in page["items"][:10])

    @task(6)
    def read_soar_process(self) -> None:
        """One run with its step log."""
        if RECENT_PROCESSES:
            self._get_json(f"/api/v1/soar/processes/{random.choice(RECENT_PROCESSES)}", SOAR_READ)

    def _get_json(self, path: str, name: str, params: dict[str, Any] | None = None) -> Any:
        """The answer's JSON, or None after marking the request failed (not 200)."""
        with self.client.get(
            path, params=params, headers=self.headers, name=name, catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"{resp.status_code}: {(resp.text or '')[:200]}")
                return None
            return resp.json()


class SeedUser(FastHttpUser):
    """Sends `--soak-seed-alerts` alerts in batches of `SEED_BATCH`, then ends the run."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """Credentials and how many alerts are left to send."""
        options = self.environment.parsed_options
        assert options is not None and options.soak_api_key, "--soak-api-key is required"
        self.headers = {"Authorization": f"Bearer {options.soak_api_key}"}
        self.alerts = AlertSource(options.soak_seed * 1000 + 999, "seed")
        self.left = int(options.soak_seed_alerts)

    @task
    def seed(self) -> None:
        """One batch; the run ends after the last."""
        if self.left <= 0:
            assert self.environment.runner is not None
            self.environment.runner.quit()
            return
        size = min(SEED_BATCH, self.left)
        self.client.post(
            "/api/v1/alerts",
            json={"alerts": [self.alerts.alert() for _ in range(size)]},
            headers=self.headers,
            name="seed batch",
        )
        self.left -= size


class HealthUser(FastHttpUser):
    """`GET /health` back to back: the ceiling, measured with the same generator."""

    wait_time = constant(0)

    @task
    def health(self) -> None:
        """The no-op endpoint."""
        self.client.get("/health", name=HEALTH)
