"""The playbook library (`muster/playbooks/library/*.yaml`) end to end, used as a tenant uses it.

Each test reads a library file from the installed package (`importlib.resources`), imports it
through the API exactly as an operator does (`POST /api/v1/playbooks`, `Content-Type:
application/yaml`, the file unchanged; it ships disabled), then does what the file's header
comment asks of a tenant: it points the `endpoints` step at the test's receivers, allows their
host in `soarAllowedHosts`, shortens a question's timeout where the test waits for it, enables
the playbook and saves the edited YAML with `PUT`. Then it ingests alerts the criteria match and
follows the run (polling every 0.1 s) while the server's embedded worker executes it, answering
questions through `POST /api/v1/incidents/{id}/soar/answer`.

The outside world is real, on loopback: a stdlib `ThreadingHTTPServer` (port 0) records every
request (method, path, headers, JSON body) and answers 200, or what a test tells it to for a
path; an `aiosmtpd` SMTP server records every message.

Why this module has its own server and database. `send_email` uses the SMTP server of the
settings the *server* was built with, and the session server of `tests/conftest.py` is built
with `smtp_port` 25. A second server with other SMTP settings on the same database would be
flaky: every server runs an embedded worker, and workers claim any tenant's jobs, so the
session server's worker (alive whenever an earlier module used it) could run an e-mail step
against port 25. So this module overrides the conftest fixtures `db` and `base_url` at module
scope: a fresh database of the same backend (a SQLite file, or a PostgreSQL schema), migrated,
and a uvicorn server whose settings are the session settings with that database and the port
of the module's SMTP server (`Settings(**{**settings.model_dump(), ...})`). The conftest
fixtures `client` and `tenant` then work against them unchanged, and only this module's worker
sees these jobs. The tests run on SQLite and PostgreSQL like every API test.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from muster.config import Settings
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from muster.models.enums import Role
from muster.playbooks.definition import ActionStep
from muster.playbooks.graph import check
from muster.playbooks.yaml_io import dump_yaml, load_yaml, parse_definition, to_document
from muster.soar.actions.base import load_actions
from tests.api.apicalls import wait_for
from tests.conftest import fresh_database_url, serve
from tests.factories import TenantKeys, alert

LIBRARY = files("muster.playbooks") / "library"
PLAYBOOKS = (
    "auto-close-benign.yaml",
    "brute-force.yaml",
    "impossible-travel.yaml",
    "malware-host-isolation.yaml",
    "phishing-triage.yaml",
)
QUESTION_TIMEOUT = "2s"  # what a test shortens a library question's timeout to
SOC_LEAD = "soc-lead@corp.test"


# ------------------------------------------------------------------ the HTTP receiver


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it (header names lower-cased, body parsed as JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        received = Received(self.command, self.path, headers, json.loads(raw) if raw else None)
        with self.server.lock:
            self.server.requests.append(received)
            number = len(self.server.requests)
        status = self.server.statuses.get(self.path, 200)
        if status >= 400:
            body = json.dumps({"error": "backend unavailable"}).encode()
        else:
            body = json.dumps({"accepted": True, "requestId": f"req-{number}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer


class Receiver(ThreadingHTTPServer):
    """A loopback HTTP server that records every request; `statuses` maps a path to the status
    it answers (default 200)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.statuses: dict[str, int] = {}


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ------------------------------------------------------------------ the SMTP server


@dataclass(frozen=True)
class Mail:
    """One accepted message: envelope recipients and the parsed message."""

    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        """The subject unfolded (Python folds a long one onto the line after `Subject:`)."""
        return " ".join(str(self.message["Subject"]).split())

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message; `port` is where it listens."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 OK"

    def of(self, incident_hash: str) -> list[Mail]:
        """The messages playbooks sent about one incident (muster marks them
        `X-Muster-Incident`; its own notifications, e.g. a question to the analysts, carry an
        `X-Muster-Kind` instead of a playbook run's `X-Muster-Process`, and are left out)."""
        return [
            m
            for m in self.mails
            if m.message["X-Muster-Incident"] == incident_hash
            and m.message["X-Muster-Process"] is not None
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# ------------------------------------------------------------------ this module's server


@pytest.fixture(scope="module")
def library_settings(
    backend: str,
    settings: Settings,
    mailbox: Mailbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Settings]:
    """The session settings with a database of this module's own and its SMTP server."""
    name = f"pblib_{uuid.uuid4().hex[:12]}"
    with fresh_database_url(backend, name, tmp_path_factory) as url:
        own = Settings(
            **{
                **settings.model_dump(),
                "database_url": url,
                "smtp_host": "127.0.0.1",
                "smtp_port": mailbox.port,
                "worker_poll_seconds": 0.05,
            }
        )
        upgrade(own)
        yield own


@pytest.fixture(scope="module")
def db(library_settings: Settings) -> Iterator[Database]:
    """Overrides conftest's `db`: this module's database (the `tenant` fixture uses it)."""
    database = create_db_engine(library_settings)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def base_url(library_settings: Settings) -> Iterator[str]:
    """Overrides conftest's `base_url`: a server (and worker) on this module's database."""
    with serve(library_settings) as url:
        yield url


# ------------------------------------------------------------------ helpers


def library_text(name: str) -> str:
    return (LIBRARY / name).read_text(encoding="utf-8")


def install(
    client: httpx.Client,
    tenant: TenantKeys,
    name: str,
    *,
    memory: dict[str, Any] | None = None,
    question_timeout: str | None = None,
) -> dict[str, Any]:
    """Import a library file as shipped, then edit and enable it as its header tells a tenant;
    the saved playbook."""
    admin = {**tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/yaml"}
    shipped = library_text(name)
    created = client.post("/api/v1/playbooks", content=shipped.encode(), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["enabled"] is False  # nothing runs before the tenant set it up
    # What a tenant does after the import: fill in the first step's endpoints (here: this
    # test's receivers), shorten a question's timeout (here: so the test can wait for it),
    # and enable the playbook; then save the edited YAML as a new version.
    document = to_document(load_yaml(shipped), compact=True)
    first = document["steps"][0]
    assert first["action"] == "set_memory"
    for key, value in (memory or {}).items():
        assert key in first["params"]["values"], f"{name} has no setting {key!r}"
        first["params"]["values"][key] = value
    if question_timeout is not None:
        questions = [s for s in document["steps"] if s["kind"] == "question"]
        assert len(questions) == 1
        questions[0]["timeout"] = question_timeout
    document["enabled"] = True
    edited = dump_yaml(parse_definition(document))
    replaced = client.put(
        f"/api/v1/playbooks/{created.json()['id']}",
        content=edited.encode(),
        headers={**admin, "If-Match": created.headers["ETag"]},
    )
    assert replaced.status_code == 200, replaced.text
    saved: dict[str, Any] = replaced.json()
    assert saved["enabled"] is True and saved["version"] == 2
    return saved


def allow_loopback(client: httpx.Client, tenant: TenantKeys) -> None:
    """The tenant admin lets playbooks reach the receivers (`soarAllowedHosts`)."""
    resp = client.patch(
        f"/api/v1/tenants/{tenant.id}",
        json={"settings": {"soarAllowedHosts": ["127.0.0.1"]}},
        headers=tenant.headers(Role.TENANT_ADMIN),
    )
    assert resp.status_code == 200, resp.text


def ingest(client: httpx.Client, tenant: TenantKeys, *alerts: dict[str, Any]) -> str:
    """Post the alerts as one batch; they must all land in one incident, whose id is returned."""
    resp = client.post("/api/v1/alerts", json={"alerts": list(alerts)}, headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    incident_ids = {item["incidentId"] for item in resp.json()["items"]}
    assert len(incident_ids) == 1, resp.json()
    return str(incident_ids.pop())


def get(client: httpx.Client, tenant: TenantKeys, path: str) -> Any:
    resp = client.get(path, headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_soar(
    client: httpx.Client, tenant: TenantKeys, incident_id: str, status: str
) -> dict[str, Any]:
    """The incident once its SOAR status is `status` (a run that fails instead fails the test)."""

    def reached(incident: dict[str, Any]) -> bool:
        if incident["soarStatus"] == "FAILED" and status != "FAILED":
            process = get(client, tenant, f"/api/v1/soar/processes/{incident['soarProcessId']}")
            pytest.fail(f"the run failed: {process['error']}; steps: {process['steps']}")
        return bool(incident["soarStatus"] == status)

    return wait_for(lambda: get(client, tenant, f"/api/v1/incidents/{incident_id}"), reached)


def answer(client: httpx.Client, tenant: TenantKeys, incident_id: str, value: str) -> None:
    resp = client.post(
        f"/api/v1/incidents/{incident_id}/soar/answer",
        json={"answer": value},
        headers=tenant.headers(),
    )
    assert resp.status_code == 200, resp.text


def process_of(client: httpx.Client, tenant: TenantKeys, incident: dict[str, Any]) -> Any:
    return get(client, tenant, f"/api/v1/soar/processes/{incident['soarProcessId']}")


def steps_of(process: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["stepId"], step["outcome"]) for step in process["steps"]]


def comments_of(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> list[str]:
    comments = get(client, tenant, f"/api/v1/incidents/{incident_id}/comments")
    assert all(c["author"] == "SOAR" for c in comments), comments
    return [str(c["body"]) for c in comments]


def timeline_of(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> list[str]:
    entries = get(client, tenant, f"/api/v1/incidents/{incident_id}/timeline")
    return [str(e["action"]) for e in entries]


def assert_soar_timeline(actions: list[str], *, answered: bool) -> None:
    """The run's story on the incident's timeline, in order: answered, or timed out."""
    soar = [a for a in actions if a.startswith("soar.")]
    expected = ["soar.selected", "soar.question_asked"]
    expected += ["soar.answered"] if answered else ["soar.question_timed_out"]
    assert soar == [*expected, "soar.finished"], actions


def assert_idempotency_key(request: Received, process_id: str) -> None:
    """`<processId>:<stepsRun>`: the same for every retry of one step, new for another step."""
    assert re.fullmatch(rf"{process_id}:\d+", request.headers["idempotency-key"]), request


def seconds_between(first: str, second: str) -> float:
    return (datetime.fromisoformat(second) - datetime.fromisoformat(first)).total_seconds()


# ------------------------------------------------------------------ the files themselves


def test_the_library_holds_exactly_the_tested_playbooks() -> None:
    shipped = sorted(entry.name for entry in LIBRARY.iterdir() if entry.name.endswith(".yaml"))
    assert shipped == sorted(PLAYBOOKS)


@pytest.mark.parametrize("name", PLAYBOOKS)
def test_a_library_file_loads_passes_the_graph_check_and_round_trips(name: str) -> None:
    shipped = library_text(name)
    definition = load_yaml(shipped)
    assert check(definition, load_actions()) == []
    assert load_yaml(dump_yaml(definition)) == definition
    # the header says what it is for, what the tenant must set up and what a timeout does
    header = shipped.split("\nname:")[0]
    assert all(line.startswith("#") for line in header.splitlines()), header
    assert "soarAllowedHosts" in header or "Needs no outside host" in header
    assert "On timeout" in header
    # shipped disabled, its outside world a placeholder in the first step
    assert definition.enabled is False and definition.trigger == "incident"
    first = definition.steps[0]
    assert isinstance(first, ActionStep) and first.action == "set_memory"
    # incident fields only: on ingest the criteria are evaluated before the batch's alerts are
    # stored, so an `alerts.<field>` criterion never matches there (the steps check alerts)
    assert definition.criteria and "alerts." not in definition.criteria
    for url in re.findall(r"https?://[^\s\"']+", shipped.split("\nname:")[1]):
        assert re.match(r"https://[a-z-]+\.example\.com/", url), url
    for address in re.findall(r"[\w.-]+@[\w.-]+", shipped.split("\nname:")[1]):
        assert address.endswith("@example.com"), address


# ------------------------------------------------------------------ phishing triage


def phishing_alert(reporter: str) -> dict[str, Any]:
    return alert(
        ruleName="Email reported by user as malware or phish",
        source="Microsoft Defender for Office 365",
        externalId=f"msg-{uuid.uuid4().hex[:16]}",
        severity=2,
        hostname=None,
        srcIp=None,
        username=reporter,
        mitreTactic="Initial Access",
        mitreTechnique="T1566.002",
        initiatorCmd=None,
        entities=[
            {"type": "mailbox", "value": reporter},
            {"type": "url", "value": "https://login-micros0ft.example.net/reset"},
        ],
    )


def test_phishing_clicked_raises_notifies_and_requests_a_purge(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "phishing-triage.yaml",
        memory={"socLeadEmail": SOC_LEAD, "purgeWebhookUrl": f"{receiver.url}/mail/purge"},
    )
    allow_loopback(client, tenant)
    reporter = f"reporter-{uuid.uuid4().hex[:6]}@corp.test"
    reported = phishing_alert(reporter)
    incident_id = ingest(client, tenant, reported)

    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    incident_hash = waiting["incidentHash"]
    assert waiting["assignee"] == "SOAR"
    assert waiting["tags"] == ["phishing", "user-reported"]
    assert waiting["soarProcess"]["currentSoarOptions"] == ["yes", "no"]
    assert waiting["soarProcess"]["currentSoarQuestion"] == (
        f"Did {reporter} click a link or open an attachment in the reported e-mail "
        "(Email reported by user as malware or phish)? They were asked by e-mail; record "
        "their reply."
    )
    [to_reporter] = mailbox.of(incident_hash)
    assert to_reporter.to == [reporter]
    assert to_reporter.subject == (
        f"Your phishing report: did you click a link or open an attachment? [#{incident_hash}]"
    )
    assert "thank you for reporting a suspicious e-mail" in to_reporter.text

    answer(client, tenant, incident_id, "yes")
    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 4, None)
    process = process_of(client, tenant, done)
    by = process["memory"]["clickedBy"]
    assert process["memory"]["clicked"] == "yes" and by.startswith("apikey:")
    assert steps_of(process) == [
        ("endpoints", "ok"),
        ("tag", "ok"),
        ("emailReporter", "ok"),
        ("askClicked", "ok"),
        ("askClicked", "answered"),
        ("decide", "ok"),
        ("raiseSeverity", "ok"),
        ("notifyLead", "ok"),
        ("purge", "ok"),
        ("notePurged", "ok"),
    ]

    [purge] = receiver.requests
    assert (purge.method, purge.path) == ("POST", "/mail/purge")
    assert purge.headers["content-type"] == "application/json"
    assert_idempotency_key(purge, process["id"])
    assert purge.body == {
        "action": "purge",
        "incident": incident_hash,
        "reporter": reporter,
        "messageIds": [reported["externalId"]],
        "urls": ["https://login-micros0ft.example.net/reset"],
    }
    _, to_lead = mailbox.of(incident_hash)
    assert to_lead.to == [SOC_LEAD]
    assert to_lead.subject == f"Phishing: {reporter} clicked the reported e-mail [#{incident_hash}]"
    assert f"asked by\n{by}, said they clicked" in to_lead.text
    [note] = comments_of(client, tenant, incident_id)
    assert note.startswith(f"{reporter} clicked the reported e-mail (recorded by {by}).")
    assert "purge requested from the mail gateway (HTTP 200)" in note
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=True)


def test_phishing_not_clicked_is_resolved_benign(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "phishing-triage.yaml",
        memory={"socLeadEmail": SOC_LEAD, "purgeWebhookUrl": f"{receiver.url}/mail/purge"},
    )
    allow_loopback(client, tenant)
    reporter = f"reporter-{uuid.uuid4().hex[:6]}@corp.test"
    incident_id = ingest(client, tenant, phishing_alert(reporter))
    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    answer(client, tenant, incident_id, "NO")  # options match without regard to case

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["resolution"]) == ("RESOLVED", "BENIGN_POSITIVE")
    assert done["resolutionComment"] == (
        "Reported phishing; the user did not interact with the message."
    )
    assert done["severity"] == 2 and done["assignee"] is None
    by = process_of(client, tenant, done)["memory"]["clickedBy"]
    assert comments_of(client, tenant, incident_id) == [
        f"{by} recorded that {reporter} did not click a link or open an attachment in the "
        "reported e-mail."
    ]
    assert receiver.requests == []
    assert [m.to for m in mailbox.of(waiting["incidentHash"])] == [[reporter]]  # the reporter's
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=True)


def test_phishing_unanswered_is_escalated_at_the_timeout(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "phishing-triage.yaml",
        memory={"socLeadEmail": SOC_LEAD, "purgeWebhookUrl": f"{receiver.url}/mail/purge"},
        question_timeout=QUESTION_TIMEOUT,
    )
    allow_loopback(client, tenant)
    reporter = f"reporter-{uuid.uuid4().hex[:6]}@corp.test"
    incident_id = ingest(client, tenant, phishing_alert(reporter))
    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    incident_hash = waiting["incidentHash"]
    assert waiting["soarTimeout"] is not None and waiting["severity"] == 2

    done = wait_soar(client, tenant, incident_id, "FINISHED")  # nobody answers
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 3, None)
    assert done["tags"] == ["phishing", "user-reported", "escalated"]
    process = process_of(client, tenant, done)
    assert "clicked" not in process["memory"]
    assert steps_of(process)[3:] == [
        ("askClicked", "ok"),
        ("askClicked", "timeout"),
        ("escalate", "ok"),
        ("raiseToThree", "ok"),
        ("tagEscalated", "ok"),
        ("emailLeadTimeout", "ok"),
        ("noteTimeout", "ok"),
    ]
    timed_out = next(s for s in process["steps"] if s["outcome"] == "timeout")
    assert 0 <= seconds_between(waiting["soarTimeout"], timed_out["startedAt"]) < 2.0
    to_reporter, to_lead = mailbox.of(incident_hash)
    assert to_reporter.to == [reporter] and to_lead.to == [SOC_LEAD]
    assert to_lead.subject == (
        f"Phishing report unanswered for 4 hours: {reporter} [#{incident_hash}]"
    )
    assert receiver.requests == []  # nothing purged without an answer
    assert comments_of(client, tenant, incident_id) == [
        "Nobody recorded the reporter's answer within 4 hours: escalated (severity at least 3, "
        "tag `escalated`) and the SOC lead was e-mailed."
    ]
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=False)
    late = client.post(
        f"/api/v1/incidents/{incident_id}/soar/answer",
        json={"answer": "yes"},
        headers=tenant.headers(),
    )
    assert late.status_code == 409, late.text


# ------------------------------------------------------------------ brute force

ATTACKER = "185.220.101.47"  # a public address


def brute_force_alerts(src_ip: str, count: int = 3) -> list[dict[str, Any]]:
    """`count` failed-logon alerts from one address against one VPN gateway."""
    return [
        alert(
            ruleName="Multiple failed sign-ins from one address",
            source="Fortinet FortiGate",
            severity=3,
            hostname="vpn-gw-01.corp.test",
            srcIp=src_ip,
            username=user,
            mitreTactic="Credential Access",
            mitreTechnique="T1110.001",
            initiatorCmd=None,
        )
        for user in ("admin", "root", "j.doe", "backup", "svc-sql")[:count]
    ]


def brute_force_memory(receiver: Receiver) -> dict[str, Any]:
    return {"firewallBlockUrl": f"{receiver.url}/firewall/block", "socLeadEmail": SOC_LEAD}


def test_brute_force_blocks_a_public_source_on_an_analysts_word(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(client, tenant, "brute-force.yaml", memory=brute_force_memory(receiver))
    allow_loopback(client, tenant)
    incident_id = ingest(client, tenant, *brute_force_alerts(ATTACKER))

    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    assert waiting["alertCount"] == 3 and waiting["assignee"] == "SOAR"
    assert waiting["soarProcess"]["currentSoarQuestion"] == f"Block {ATTACKER} at the firewall?"
    assert waiting["soarProcess"]["currentSoarOptions"] == ["block", "ignore"]
    answer(client, tenant, incident_id, "block")

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 3, None)
    assert done["tags"] == ["ip-blocked"]
    process = process_of(client, tenant, done)
    by = process["memory"]["decisionBy"]
    assert process["memory"]["source"]["global"] is True
    assert steps_of(process) == [
        ("endpoints", "ok"),
        ("hasSource", "ok"),
        ("source", "ok"),
        ("where", "ok"),
        ("askBlock", "ok"),
        ("askBlock", "answered"),
        ("decide", "ok"),
        ("block", "ok"),
        ("noteBlocked", "ok"),
        ("tagBlocked", "ok"),
    ]
    [blocked] = receiver.requests
    assert (blocked.method, blocked.path) == ("POST", "/firewall/block")
    assert_idempotency_key(blocked, process["id"])
    assert blocked.body == {
        "ip": ATTACKER,
        "action": "block",
        "durationMinutes": 1440,
        "reason": f"muster {done['incidentHash']}: Multiple failed sign-ins from one address",
        "requestedBy": by,
    }
    assert comments_of(client, tenant, incident_id) == [
        f"Blocked {ATTACKER} at the firewall for 1440 minutes on the word of {by}. The "
        'firewall answered HTTP 200: {"accepted": true, "requestId": "req-1"}'
    ]
    assert mailbox.of(done["incidentHash"]) == []
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=True)


def test_brute_force_unanswered_is_escalated_and_handed_back_unassigned(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "brute-force.yaml",
        memory=brute_force_memory(receiver),
        question_timeout=QUESTION_TIMEOUT,
    )
    allow_loopback(client, tenant)
    incident_id = ingest(client, tenant, *brute_force_alerts(ATTACKER, count=2))
    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    assert waiting["assignee"] == "SOAR" and waiting["severity"] == 3

    done = wait_soar(client, tenant, incident_id, "FINISHED")  # nobody answers
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 4, None)
    assert done["tags"] == ["escalated"]
    process = process_of(client, tenant, done)
    assert steps_of(process)[4:] == [
        ("askBlock", "ok"),
        ("askBlock", "timeout"),
        ("escalate", "ok"),
        ("raiseSeverity", "ok"),
        ("emailLead", "ok"),
        ("noteEscalated", "ok"),
    ]
    assert receiver.requests == []  # nothing is blocked without a decision
    [to_lead] = mailbox.of(done["incidentHash"])
    assert to_lead.to == [SOC_LEAD]
    assert to_lead.subject == (
        f"Brute force from {ATTACKER}: no decision in 15 minutes [#{done['incidentHash']}]"
    )
    assert "(Multiple failed sign-ins from one address, 2\nalert(s))" in to_lead.text
    [note] = comments_of(client, tenant, incident_id)
    assert note.startswith(f"Nobody decided within 15 minutes whether to block {ATTACKER}")
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=False)
    entries = get(client, tenant, f"/api/v1/incidents/{incident_id}/timeline")
    handed = [e for e in entries if e["reason"] == "playbook run finished"]
    assert [e["changes"]["assignee"] for e in handed] == [["SOAR", None]]


def test_brute_force_from_an_internal_address_is_only_commented(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver
) -> None:
    install(client, tenant, "brute-force.yaml", memory=brute_force_memory(receiver))
    allow_loopback(client, tenant)
    incident_id = ingest(client, tenant, *brute_force_alerts("10.20.30.40", count=2))

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["tags"], done["assignee"]) == ("OPEN", [], None)
    assert steps_of(process_of(client, tenant, done)) == [
        ("endpoints", "ok"),
        ("hasSource", "ok"),
        ("source", "ok"),
        ("where", "ok"),
        ("noteInternal", "ok"),
    ]
    [note] = comments_of(client, tenant, incident_id)
    assert note.startswith("The failed logons come from 10.20.30.40, an internal address")
    assert receiver.requests == []
    actions = timeline_of(client, tenant, incident_id)
    assert [a for a in actions if a.startswith("soar.")] == ["soar.selected", "soar.finished"]


# ------------------------------------------------------------------ impossible travel


def test_impossible_travel_not_expected_revokes_the_sessions(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "impossible-travel.yaml",
        memory={"idpRevokeUrl": f"{receiver.url}/idp/revoke-sessions"},
    )
    allow_loopback(client, tenant)
    user = f"traveller-{uuid.uuid4().hex[:6]}@corp.test"
    cloud_apps = "Microsoft Defender for Cloud Apps"
    # an earlier incident of the same account, which the playbook's criteria do not select
    earlier_id = ingest(
        client,
        tenant,
        alert(
            ruleName="Suspicious inbox forwarding rule",
            source=cloud_apps,
            hostname=None,
            srcIp=None,
            username=user,
            mitreTactic="Collection",
            mitreTechnique="T1114.003",
            initiatorCmd=None,
        ),
    )
    earlier = get(client, tenant, f"/api/v1/incidents/{earlier_id}")
    assert earlier["soarStatus"] == "NOT_PROCESSED"
    sign_ins = [
        alert(
            ruleName="Impossible travel activity",
            source=cloud_apps,
            severity=3,
            hostname=None,
            srcIp=address,
            username=user,
            mitreTactic="Initial Access",
            mitreTechnique="T1078",
            initiatorCmd=None,
            createdAt=(datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
        )
        for address, hours_ago in (("81.2.69.142", 3), ("175.45.176.3", 1))
    ]
    incident_id = ingest(client, tenant, *sign_ins)

    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    assert waiting["soarProcess"]["currentSoarQuestion"] == (
        f"Was the sign-in of {user} from 81.2.69.142 and 175.45.176.3 expected (a trip, a VPN, "
        "a new device)?"
    )
    assert waiting["soarProcess"]["currentSoarOptions"] == ["expected", "unexpected"]
    assert comments_of(client, tenant, incident_id) == [
        f"Sign-ins of {user} from 81.2.69.142, 175.45.176.3.\nIncidents of the last 30 days "
        f"sharing the account, a host or an address: {earlier['incidentHash']} (Suspicious "
        f"inbox forwarding rule; shares {user})."
    ]
    answer(client, tenant, incident_id, "unexpected")

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 4, None)
    assert done["tags"] == ["sessions-revoked"]
    process = process_of(client, tenant, done)
    by = process["memory"]["travelBy"]
    assert [i["id"] for i in process["memory"]["related"]["incidents"]] == [earlier_id]
    assert steps_of(process)[-6:] == [
        ("askExpected", "answered"),
        ("decide", "ok"),
        ("raiseSeverity", "ok"),
        ("revoke", "ok"),
        ("noteRevoked", "ok"),
        ("tagRevoked", "ok"),
    ]
    [revoke] = receiver.requests
    assert (revoke.method, revoke.path) == ("POST", "/idp/revoke-sessions")
    assert_idempotency_key(revoke, process["id"])
    assert revoke.body == {
        "action": "revoke_sessions",
        "user": user,
        "sourceIps": ["81.2.69.142", "175.45.176.3"],
        "incident": done["incidentHash"],
        "requestedBy": by,
    }
    assert comments_of(client, tenant, incident_id)[1].startswith(
        f"{by} did not expect the sign-ins of {user}: severity 4, and the identity provider was "
        "asked to revoke the account's sessions (HTTP 200)."
    )
    assert mailbox.of(done["incidentHash"]) == []
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=True)


# ------------------------------------------------------------------ malware host isolation


def test_malware_isolation_that_the_edr_refuses_is_commented_and_mailed(
    client: httpx.Client, tenant: TenantKeys, receiver: Receiver, mailbox: Mailbox
) -> None:
    install(
        client,
        tenant,
        "malware-host-isolation.yaml",
        memory={"edrIsolateUrl": f"{receiver.url}/edr/isolate", "socLeadEmail": SOC_LEAD},
    )
    allow_loopback(client, tenant)
    receiver.statuses["/edr/isolate"] = 500  # the EDR is down: every attempt fails
    host = f"fin-ws-{uuid.uuid4().hex[:4]}.corp.test"
    incident_id = ingest(
        client,
        tenant,
        alert(
            ruleName="Ransomware behavior detected",
            source="CrowdStrike Falcon",
            severity=4,
            hostname=host,
            mitreTactic="Impact",
            mitreTechnique="T1486",
            initiatorCmd="vssadmin.exe delete shadows /all /quiet",
        ),
    )

    waiting = wait_soar(client, tenant, incident_id, "WAITING_INPUT")
    assert waiting["soarProcess"]["currentSoarQuestion"] == f"Isolate {host}?"
    assert waiting["soarProcess"]["currentSoarOptions"] == ["isolate", "monitor"]
    assert comments_of(client, tenant, incident_id) == [
        f"MITRE ATT&CK T1486 Data Encrypted for Impact (tactics: Impact) on {host}."
    ]
    answer(client, tenant, incident_id, "isolate")

    done = wait_soar(client, tenant, incident_id, "FINISHED")  # onError: the run goes on
    assert (done["status"], done["severity"], done["assignee"]) == ("OPEN", 4, None)
    assert done["tags"] == ["isolation-failed"]
    process = process_of(client, tenant, done)
    assert steps_of(process)[-5:] == [
        ("decide", "ok"),
        ("isolate", "error"),
        ("noteIsolationFailed", "ok"),
        ("tagIsolationFailed", "ok"),
        ("emailIsolationFailed", "ok"),
    ]
    error = process["memory"]["lastError"]["error"]
    assert error.startswith(f"POST {receiver.url}/edr/isolate answered HTTP 500")
    assert error.endswith("(after 3 attempts)")
    # two retries, with the same idempotency key, so the EDR can tell they are one request
    attempts = receiver.requests
    assert [(r.method, r.path) for r in attempts] == [("POST", "/edr/isolate")] * 3
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    assert_idempotency_key(attempts[0], process["id"])
    assert all(
        r.body
        == {
            "hostname": host,
            "action": "isolate",
            "incident": done["incidentHash"],
            "comment": f"muster {done['incidentHash']}: Ransomware behavior detected",
            "requestedBy": process["memory"]["decisionBy"],
        }
        for r in attempts
    )
    failed_note = comments_of(client, tenant, incident_id)[1]
    assert failed_note == (
        f"Isolation of {host} FAILED: {error}. The host is still on the network: isolate it by "
        "hand in the EDR console."
    )
    [to_lead] = mailbox.of(done["incidentHash"])
    assert to_lead.to == [SOC_LEAD]
    assert to_lead.subject == f"Isolation of {host} failed [#{done['incidentHash']}]"
    assert error in to_lead.text and "Isolate it by hand." in to_lead.text
    assert_soar_timeline(timeline_of(client, tenant, incident_id), answered=True)


# ------------------------------------------------------------------ auto-close benign

SCANNER_NETWORK = "10.250.0.0/24"


def scan_alerts(*sources: str) -> list[dict[str, Any]]:
    """Port-scan alerts of one sensor, one per source address, each against another target."""
    return [
        alert(
            ruleName="Port scan detected",
            source="Zeek",
            severity=2,
            hostname="zeek-sensor-01.corp.test",
            srcIp=src,
            destIp=f"10.20.0.{n + 10}",
            username=None,
            mitreTactic="Discovery",
            mitreTechnique="T1046",
            initiatorCmd=None,
        )
        for n, src in enumerate(sources)
    ]


def test_auto_close_checks_every_alert_and_resolves_scanner_activity(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    install(client, tenant, "auto-close-benign.yaml", memory={"scannerNetworks": [SCANNER_NETWORK]})
    incident_id = ingest(client, tenant, *scan_alerts("10.250.0.15", "10.250.0.15", "10.250.0.16"))

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["resolution"]) == ("RESOLVED", "BENIGN_POSITIVE")
    assert done["resolutionComment"] == (
        "Known-benign activity of the tenant's vulnerability scanner; closed by playbook."
    )
    assert done["tags"] == ["benign", "vulnerability-scanner"] and done["assignee"] is None
    process = process_of(client, tenant, done)
    alert_ids = [a["id"] for a in done["alerts"]]
    assert len(alert_ids) == 3
    assert sorted(process["memory"]["checkedAlerts"]) == sorted(alert_ids)
    assert process["memory"]["foreignAlerts"] == []
    assert "alert" not in process["memory"]  # the loop variable is gone after the loop
    per_alert = [("classify", "ok"), ("fromScanner", "ok"), ("recordChecked", "ok")]
    assert steps_of(process) == [
        ("settings", "ok"),
        ("checkEach", "ok"),
        *per_alert * 3,
        ("verdict", "ok"),
        ("tagBenign", "ok"),
        ("noteChecked", "ok"),
        ("close", "ok"),
    ]
    assert comments_of(client, tenant, incident_id) == [
        f"Checked 3 alert(s): every one comes from the scanner networks ({SCANNER_NETWORK})."
    ]
    actions = timeline_of(client, tenant, incident_id)
    assert [a for a in actions if a.startswith("soar.")] == ["soar.selected", "soar.finished"]


def test_auto_close_leaves_a_scan_from_elsewhere_open(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    install(client, tenant, "auto-close-benign.yaml", memory={"scannerNetworks": [SCANNER_NETWORK]})
    incident_id = ingest(client, tenant, *scan_alerts("10.250.0.15", "172.16.9.99"))

    done = wait_soar(client, tenant, incident_id, "FINISHED")
    assert (done["status"], done["resolution"]) == ("OPEN", None)
    assert done["tags"] == ["scanner-check-failed"]
    process = process_of(client, tenant, done)
    by_source = {a["srcIp"]: a["id"] for a in done["alerts"]}
    assert process["memory"]["checkedAlerts"] == [by_source["10.250.0.15"]]
    assert process["memory"]["foreignAlerts"] == [by_source["172.16.9.99"]]
    assert comments_of(client, tenant, incident_id) == [
        f"Not closed automatically: 1 of 2 alert(s) do not come from the scanner networks "
        f"({SCANNER_NETWORK}): {by_source['172.16.9.99']}."
    ]
