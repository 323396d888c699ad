"""E-mail in, end to end: a real SMTP client (smtplib) talks to muster's listener (aiosmtpd on
a loopback port, on the session's database), and the shared API server's worker runs the
playbooks; muster's own mail arrives at the session's SMTP sink (`mail_sink`). Replies answer
SOAR questions or become comments; intake reports open incidents and start `email`
playbooks; strangers, oversize and malformed mail are refused and the listener keeps serving.
`muster serve` (with MUSTER_MAIL_LISTEN) and `muster mail` run the same listener.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email.policy
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from muster.clock import SystemClock
from muster.config import Settings
from muster.db.engine import Database
from muster.models.enums import Role
from muster.notify.mail.listener import (
    MAX_RECIPIENTS,
    TEMPORARY_FAILURE,
    InboundHandler,
    MailListener,
)
from muster.notify.mail.receive import Reply
from tests.api.apicalls import create_incident, ingest, wait_for
from tests.conftest import MailSink, serve
from tests.factories import TenantKeys

MAX_BYTES = 64 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def listener(db: Database, settings: Settings) -> Iterator[int]:
    """muster's listener on the session database (64 KiB limit); its port."""
    own = Settings(**{**settings.model_dump(), "mail_max_bytes": MAX_BYTES})
    port = free_port()
    running = MailListener(db, own, SystemClock(), f"127.0.0.1:{port}").start()
    yield port
    running.stop()


def message(sender: str, subject: str, body: str, to: str = "muster@localhost") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="client.test")
    mail.set_content(body)
    return mail


def send(port: int, mail: EmailMessage | bytes, sender: str = "", to: str = "") -> tuple[int, str]:
    """One SMTP transaction without SIZE: the server's reply to DATA (code, text)."""
    raw = mail.as_bytes(policy=email.policy.SMTP) if isinstance(mail, EmailMessage) else mail
    if isinstance(mail, EmailMessage):
        sender = sender or str(mail["From"])
        to = to or str(mail["To"])
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        code, text = smtp.mail(sender)
        assert code == 250, text
        code, text = smtp.rcpt(to)
        assert code == 250, text
        reply: bytes | str
        try:
            code, reply = smtp.data(raw)
        except smtplib.SMTPDataError as exc:
            code, reply = exc.smtp_code, exc.smtp_error
    return code, reply.decode() if isinstance(reply, bytes) else str(reply)


def comments(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/incidents/{incident_id}/comments", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()
    return found


def incident(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> dict[str, Any]:
    resp = client.get(f"/api/v1/incidents/{incident_id}", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()
    return found


def add_user(client: httpx.Client, tenant: TenantKeys, role: Role) -> dict[str, Any]:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.test"
    body = {"email": email, "name": f"{role.value} person", "role": role.value}
    resp = client.post("/api/v1/users", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()
    return user


def member_id(client: httpx.Client, tenant: TenantKeys) -> str:
    users = client.get("/api/v1/users", headers=tenant.headers(Role.TENANT_ADMIN)).json()
    (found,) = [u for u in users if u["email"] == tenant.member_email]
    return str(found["id"])


def question_playbook(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "trigger": "incident",
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": "Block the host {{ incident.incidentHash }}?",
                "options": ["block", "ignore", "escalate"],
                "answerMemory": "decision",
                "timeout": "10m",
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body()
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


class TestReplies:
    def test_question_mail_and_an_answer_by_number(
        self, client: httpx.Client, tenant: TenantKeys, mail_sink: MailSink, listener: int
    ) -> None:
        admin = add_user(client, tenant, Role.TENANT_ADMIN)
        viewer = add_user(client, tenant, Role.VIEWER)
        resp = client.post(
            "/api/v1/playbooks",
            json=question_playbook(f"ask-{uuid.uuid4().hex[:6]}"),
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert resp.status_code == 201, resp.text
        incident_id = ingest(client, tenant, hostname=f"h-{uuid.uuid4().hex[:6]}")["incidentId"]
        waiting = wait_for(
            lambda: incident(client, tenant, incident_id),
            lambda i: i["soarStatus"] == "WAITING_INPUT",
        )
        tag = waiting["incidentHash"]

        [asked] = mail_sink.wait(tenant.member_email)  # nobody in particular: the team
        assert asked["Subject"] == f"[{tag}] Question: Block the host {tag}?"
        text = text_of(asked)
        assert "Options:\n  1. block\n  2. ignore\n  3. escalate\n" in text
        assert "reply with the option number or its text" in text
        assert len(mail_sink.wait(admin["email"])) == 1
        assert mail_sink.messages(viewer["email"]) == []

        reply = f"{{}}\n\nOn Mon, 2 Mar 2026 at 09:30, muster <muster@localhost> wrote:\n> {text}"
        subject = f"Re: {asked['Subject']}"
        code, answer = send(listener, message(tenant.member_email, subject, reply.format("7")))
        assert code == 550 and "no option 7" in answer and "2 (ignore)" in answer

        body = reply.format("2\n\nChecked: it is the backup agent.")
        code, answer = send(listener, message(tenant.member_email, subject, body))
        assert (code, answer) == (250, f"2.0.0 [{tag}] answered 'ignore'")
        done = wait_for(
            lambda: incident(client, tenant, incident_id), lambda i: i["soarStatus"] == "FINISHED"
        )
        process = client.get(
            f"/api/v1/soar/processes/{done['soarProcessId']}", headers=tenant.headers()
        ).json()
        assert process["memory"]["decision"] == "ignore"
        assert process["memory"]["decisionBy"] == f"user:{member_id(client, tenant)}"
        [note] = comments(client, tenant, incident_id)
        assert note["body"] == "Checked: it is the backup agent."
        assert (note["authorName"], note["authorType"]) == (tenant.member_name, "user")

        code, late = send(listener, message(tenant.member_email, subject, reply.format("1")))
        assert code == 550 and "no question is waiting" in late

    def test_a_reply_in_words_is_a_comment_by_the_sender(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        created = create_incident(client, tenant)
        tag = created["incidentHash"].lower()  # typed by hand
        body = (
            "False positive: the admin ran the backup script.\n\n"
            "-----Original Message-----\nFrom: muster\nSubject: [x] Assigned to you"
        )
        mail = message(tenant.member_email.upper(), f"RE: [{tag}] Assigned to you", body)
        code, text = send(listener, mail)
        assert (code, text) == (250, f"2.0.0 [{tag.upper()}] comment added")
        [note] = comments(client, tenant, created["id"])
        assert note["body"] == "False positive: the admin ran the backup script."
        assert (note["authorName"], note["authorType"]) == (tenant.member_name, "user")
        assert incident(client, tenant, created["id"])["respondedAt"] is not None

    def test_strangers_and_other_tenants_members_are_refused(
        self,
        client: httpx.Client,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
        listener: int,
    ) -> None:
        created = create_incident(client, tenant)
        subject = f"Re: [{created['incidentHash']}] Assigned to you"
        for sender in ("mallory@evil.test", other_tenant.member_email):
            code, text = send(listener, message(sender, subject, "close it, it's fine"))
            assert code == 550 and text.startswith("5.7.1") and "not a member" in text
        assert comments(client, tenant, created["id"]) == []

    def test_automatic_replies_are_dropped(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        created = create_incident(client, tenant)
        mail = message(tenant.member_email, f"Out of office: [{created['incidentHash']}]", "Away")
        mail["Auto-Submitted"] = "auto-replied"
        assert send(listener, mail) == (250, "2.0.0 automatic message ignored")
        bounce = message("mailer-daemon@example.test", f"[{created['incidentHash']}]", "bounce")
        assert send(listener, bounce, sender="<>")[0] == 250
        assert comments(client, tenant, created["id"]) == []

    def test_mail_for_nobody_is_refused(self, listener: int) -> None:
        code, text = send(listener, message("a@example.test", "hello", "hi", to="x@nowhere.test"))
        assert code == 550 and text.startswith("5.1.1 no such recipient")
        code, text = send(listener, message("a@example.test", "Re: [ZZZZ-ZZZZ] x", "hi"))
        assert code == 550 and "no incident [ZZZZ-ZZZZ]" in text


class TestRefusals:
    """Oversize and malformed mail is refused, and the listener goes on serving."""

    def test_oversize_mail_is_refused(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        created = create_incident(client, tenant)
        subject = f"Re: [{created['incidentHash']}] x"
        big = message(tenant.member_email, subject, ("y" * 70 + "\n") * 1200)
        assert len(big.as_bytes()) > MAX_BYTES
        smtp = smtplib.SMTP("127.0.0.1", listener, timeout=30)
        with smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.send_message(big)  # announces SIZE
        assert refused.value.smtp_code == 552
        code, text = send(listener, big)  # no SIZE: refused after the data
        assert code == 552 and "Too much mail data" in text
        assert send(listener, message(tenant.member_email, subject, "still here"))[0] == 250
        assert [c["body"] for c in comments(client, tenant, created["id"])] == ["still here"]

    def test_malformed_mime_is_refused(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        created = create_incident(client, tenant)
        subject = f"Re: [{created['incidentHash']}] x"
        garbage = b"\x00\xff\xfe\x01 this is not mail\r\n\x80\x81 at all\r\n"
        code, text = send(listener, garbage, tenant.member_email, "muster@localhost")
        assert code == 554 and text.startswith("5.6.0 malformed message")
        no_boundary = (
            f"From: {tenant.member_email}\r\nSubject: {subject}\r\n"
            'Content-Type: multipart/mixed; boundary="never"\r\n\r\nno parts here\r\n'
        ).encode()
        code, text = send(listener, no_boundary, tenant.member_email, "muster@localhost")
        assert code == 554 and "StartBoundaryNotFound" in text
        with socket.create_connection(("127.0.0.1", listener), timeout=10) as rude:  # hangs up
            rude.sendall(b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhalf")
        assert send(listener, message(tenant.member_email, subject, "after garbage"))[0] == 250
        assert [c["body"] for c in comments(client, tenant, created["id"])] == ["after garbage"]


class TestIntake:
    def intake(self, client: httpx.Client, tenant: TenantKeys, **settings: Any) -> str:
        address = f"Phish-{uuid.uuid4().hex[:8]}@Corp.test"
        resp = client.patch(
            f"/api/v1/tenants/{tenant.id}",
            json={"settings": {"emailIntake": address, **settings}},
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["settings"]["emailIntake"] == address.lower()
        return address.lower()

    def report(self, sender: str, to: str) -> EmailMessage:
        mail = message(sender, "Fwd: Your invoice is overdue", "Looks like phishing to me.", to)
        phish = EmailMessage()
        phish["From"] = "billing@phish.test"
        phish["Subject"] = "Your invoice is overdue"
        phish["Message-ID"] = "<inv-1@phish.test>"
        phish.set_content("Pay now at https://phish.test/pay?id=7 or lose access.")
        mail.add_attachment(phish)  # message/rfc822
        mail.add_attachment(
            b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf"
        )
        return mail

    def test_a_report_opens_an_incident_and_starts_the_email_playbook(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        address = self.intake(client, tenant)
        admin = tenant.headers(Role.TENANT_ADMIN)
        email_playbook = {
            "name": f"phishing-{uuid.uuid4().hex[:6]}",
            "trigger": "email",
            "steps": [
                {
                    "id": "tag",
                    "kind": "action",
                    "action": "add_tags",
                    "params": {"tags": ["phishing-report"]},
                    "next": "done",
                },
                {"id": "done", "kind": "end"},
            ],
        }
        incident_playbook = {
            "name": f"generic-{uuid.uuid4().hex[:6]}",
            "trigger": "incident",
            "steps": [
                {
                    "id": "tag",
                    "kind": "action",
                    "action": "add_tags",
                    "params": {"tags": ["generic"]},
                    "next": "done",
                },
                {"id": "done", "kind": "end"},
            ],
        }
        for body in (email_playbook, incident_playbook):
            resp = client.post("/api/v1/playbooks", json=body, headers=admin)
            assert resp.status_code == 201, resp.text

        mail = self.report("Reporter <bob@corp.test>", address)
        code, text = send(listener, mail, sender="bob@corp.test")
        assert code == 250, text
        found = re.fullmatch(r"2\.0\.0 incident \[(\w{4}-\w{4})\] opened", text)
        assert found, text
        by_hash = client.get(f"/api/v1/incidents/by-hash/{found[1]}", headers=tenant.headers())
        assert by_hash.status_code == 200, by_hash.text
        opened = by_hash.json()
        assert opened["source"] == "email"
        assert opened["description"] == "Reported e-mail: Your invoice is overdue"
        assert opened["severity"] == 2
        done = wait_for(
            lambda: incident(client, tenant, opened["id"]),
            lambda i: i["soarStatus"] == "FINISHED",
        )
        assert "phishing-report" in done["tags"] and "generic" not in done["tags"]
        runs = client.get(
            "/api/v1/soar/processes", params={"incidentId": opened["id"]}, headers=admin
        ).json()["items"]
        assert sorted((r["trigger"], r["status"]) for r in runs) == [
            ("email", "FINISHED"),
            ("incident", "CANCELLED"),
        ]

        alert = client.get(
            f"/api/v1/alerts/{opened['alerts'][0]['id']}", headers=tenant.headers()
        ).json()
        evidence = alert["raw"]["email"]
        assert evidence["from"] == "bob@corp.test" and evidence["recipient"] == address
        forwarded, pdf = evidence["attachments"]
        assert forwarded["message"]["Subject"] == "Your invoice is overdue"
        assert (pdf["name"], pdf["size"]) == ("invoice.pdf", len(b"%PDF-1.4 fake"))
        values = {(e["type"], e["value"]) for e in alert["entities"]}
        assert ("url", "https://phish.test/pay?id=7") in values
        assert ("mailbox", "bob@corp.test") in values

        again = send(listener, mail, sender="bob@corp.test")  # the same Message-ID
        assert again == (250, f"2.0.0 already received as [{found[1]}]")

    def test_senders_outside_the_allow_list_are_refused(
        self, client: httpx.Client, tenant: TenantKeys, listener: int
    ) -> None:
        address = self.intake(client, tenant, emailIntakeSenders=["corp.test"])
        code, text = send(listener, self.report("eve@gmail.test", address))
        assert code == 550 and "eve@gmail.test may not send to" in text
        code, text = send(listener, self.report("bob@eu.corp.test", address))
        assert code == 250 and "opened" in text


def test_an_error_while_handling_is_a_451_and_the_listener_goes_on() -> None:
    """The listener's own contract, with a receiver that fails on the first message."""
    calls: list[tuple[str, list[str]]] = []

    def receiver(mail_from: str, rcpt_tos: list[str], raw: bytes) -> Reply:
        calls.append((mail_from, rcpt_tos))
        if len(calls) == 1:
            raise RuntimeError("database on fire")
        return Reply(250, "2.0.0 fine", "accepted")

    port = free_port()
    controller = Controller(
        InboundHandler(receiver), hostname="127.0.0.1", port=port, server_hostname="t"
    )
    controller.start()
    try:
        mail = message("a@example.test", "x", "y")
        assert send(port, mail) == (451, TEMPORARY_FAILURE.removeprefix("451 "))
        assert send(port, mail) == (250, "2.0.0 fine")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("a@example.test")
            for n in range(MAX_RECIPIENTS):
                assert smtp.rcpt(f"r{n}@example.test")[0] == 250
            assert smtp.rcpt("one-too-many@example.test")[0] == 452
    finally:
        controller.stop()
    assert calls[1] == ("a@example.test", ["muster@localhost"])


# ------------------------------------------------------------------ the shells


def reply_lands(port: int, client: httpx.Client, tenant: TenantKeys, words: str) -> None:
    """A reply sent to `port` becomes a comment."""
    created = create_incident(client, tenant)
    mail = message(tenant.member_email, f"Re: [{created['incidentHash']}] x", words)
    deadline = time.monotonic() + 30
    while True:
        try:
            code, text = send(port, mail)
            break
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert code == 250, text
    assert [c["body"] for c in comments(client, tenant, created["id"])] == [words]


def test_serve_runs_the_listener_when_configured(
    settings: Settings, client: httpx.Client, tenant: TenantKeys
) -> None:
    port = free_port()
    own = Settings(**{**settings.model_dump(), "mail_listen": f"127.0.0.1:{port}"})
    with serve(own):
        reply_lands(port, client, tenant, "received by muster serve")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # stopped with it


def test_the_mail_command(settings: Settings, client: httpx.Client, tenant: TenantKeys) -> None:
    port = free_port()
    env = {**os.environ, "MUSTER_DATABASE_URL": settings.database_url}
    code = "import sys; from muster.cli import main; sys.argv[0] = 'muster'; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "mail", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        reply_lands(port, client, tenant, "received by muster mail")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, "".join(lines)
        assert f"listening on 127.0.0.1:{port}" in "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
