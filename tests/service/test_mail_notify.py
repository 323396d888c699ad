"""Notification mail end to end below the API: a timeline event queues a `mail.notify` job in
its transaction; the job's handler renders and sends it to a real SMTP server (the session's
`mail_sink`, which the shared test settings point at). Runs on SQLite and PostgreSQL.

Jobs are run by a worker of this test (`run_mail_jobs`); when the shared API server of the
session is up, its embedded worker may run some of them first, to the same SMTP server.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import REGISTRY
from sqlalchemy import select
from tests.conftest import MailSink
from tests.factories import TenantKeys

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import change_incident, create_incident
from muster.incidents.timeline import event_row, write_events
from muster.models import ApiKey, Incident
from muster.models.enums import Role
from muster.notify.mail.fanout import NOTIFY_JOB
from muster.notify.mail.outgoing import draft, handlers
from muster.soar.actions.base import RetryableError
from muster.tenants.schemas import UserCreate, UserUpdate
from muster.tenants.users import create_user, set_email_opt_out, update_user
from muster.worker.jobs import JOBS, claim, enqueue
from muster.worker.loop import Worker


@dataclass
class Member:
    id: uuid.UUID
    email: str
    name: str


def add_member(db: Database, tenant: TenantKeys, role: Role = Role.ANALYST) -> Member:
    email = f"{role.value}-{uuid.uuid4().hex[:10]}@example.test"
    name = f"{role.value.title()} {email[-17:-13]}"
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        user = create_user(
            session,
            UserCreate(email=email, name=name, role=role),
            SystemClock().now(),
            by_global=True,
        )
    return Member(user.id, email, name)


def key_actor(db: Database, tenant: TenantKeys) -> Actor:
    """The tenant's analyst API key as a timeline actor."""
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        key = session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant.id, ApiKey.role == "analyst")
        ).one()
        return Actor("apikey", f"apikey:{key.id}", f"API key {key.name}")


def open_incident(db: Database, tenant: TenantKeys, assignee: str | None = None) -> Incident:
    now = SystemClock().now()
    body = IncidentCreate(
        description=f"Beaconing from ws-{uuid.uuid4().hex[:6]}", assignee=assignee
    )
    actor = key_actor(db, tenant)
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        incident = create_incident(session, body, actor, now)
        session.expunge(incident)
    return incident


def mail_job_states(db: Database, tenant_id: uuid.UUID) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(JOBS.c.state).where(JOBS.c.tenant_id == tenant_id, JOBS.c.kind == NOTIFY_JOB)
        )
        return [row.state for row in rows]


def run_mail_jobs(db: Database, settings: Settings, tenant_id: uuid.UUID, count: int) -> None:
    """Run mail jobs until the tenant's `count` mail jobs are done."""
    clock = SystemClock()
    worker = Worker(db, handlers(db, settings, clock), clock=clock, poll_seconds=0.05)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = mail_job_states(db, tenant_id)
        if len(states) >= count and all(state == "done" for state in states):
            return
        if not worker.run_once():
            time.sleep(0.05)
    pytest.fail(f"mail jobs not done: {mail_job_states(db, tenant_id)}")


def counted(result: str) -> float:
    value = REGISTRY.get_sample_value("muster_emails_total", {"direction": "out", "result": result})
    return value or 0.0


class TestAssignment:
    def test_the_assignee_gets_a_tagged_mail_with_a_stable_message_id(
        self, db: Database, settings: Settings, tenant: TenantKeys, mail_sink: MailSink
    ) -> None:
        sent_before = counted("sent")
        incident = open_incident(db, tenant, assignee=tenant.member_email)
        run_mail_jobs(db, settings, tenant.id, 1)
        [message] = mail_sink.wait(tenant.member_email)
        assert (
            message["Subject"]
            == f"[{incident.incident_hash}] Assigned to you: {incident.description}"
        )
        assert message["To"] == f"{tenant.member_name} <{tenant.member_email}>"
        assert message["X-Muster-Incident"] == incident.incident_hash
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["References"] == f"<incident.{incident.id}@localhost>"
        assert message["Message-ID"].startswith("<muster.assignment.")
        body = message.get_body()
        assert body is not None
        text = body.get_content()
        assert "API key 'analyst-key' assigned incident" in text
        assert f"/api/v1/incidents/{incident.id}" in text
        assert counted("sent") >= sent_before + 1

        # a retry renders the same message: the same Message-ID, so clients show it once
        payload = self.payload(db, tenant)
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            again = draft(session, payload, settings, SystemClock().now())
        assert again.message is not None
        assert again.message["Message-ID"] == message["Message-ID"]
        assert again.message["Subject"] == message["Subject"]

    def payload(self, db: Database, tenant: TenantKeys) -> dict[str, Any]:
        with db.engine.connect() as conn:
            payload: dict[str, Any] = conn.execute(
                select(JOBS.c.payload).where(
                    JOBS.c.tenant_id == tenant.id, JOBS.c.kind == NOTIFY_JOB
                )
            ).scalar_one()
        return payload

    def test_opted_out_and_inactive_users_get_nothing(
        self, db: Database, settings: Settings, tenant: TenantKeys, mail_sink: MailSink
    ) -> None:
        quiet, mute, gone, keen = (add_member(db, tenant) for _ in range(4))
        now = SystemClock().now()
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            assert set_email_opt_out(session, quiet.id, ["assignment", "sla"], now) == [
                "assignment",
                "sla",
            ]
            assert set_email_opt_out(session, mute.id, ["question", "all"], now) == ["all"]
        for member in (quiet, mute, keen):
            open_incident(db, tenant, assignee=member.email)
        gone_incident = open_incident(db, tenant)
        key = key_actor(db, tenant)
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            # assigned while active, deactivated before the mail goes out
            change_incident(session, gone_incident.id, {"assignee": gone.email}, key, now)
            update_user(session, gone.id, UserUpdate(active=False), now, by_global=True)
        run_mail_jobs(db, settings, tenant.id, 4)
        assert len(mail_sink.wait(keen.email)) == 1
        for member in (quiet, mute, gone):
            assert mail_sink.messages(member.email) == []

    def test_nobody_is_told_of_their_own_assignment(
        self, db: Database, settings: Settings, tenant: TenantKeys, mail_sink: MailSink
    ) -> None:
        member = add_member(db, tenant)
        incident = open_incident(db, tenant)
        me = Actor("user", f"user:{member.id}", member.name)
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            change_incident(
                session, incident.id, {"assignee": member.email}, me, SystemClock().now()
            )
        run_mail_jobs(db, settings, tenant.id, 1)
        assert mail_sink.messages(member.email) == []


class TestSlaBreach:
    def breach(self, db: Database, tenant: TenantKeys, incident: Incident) -> None:
        """The timeline row the SLA engine writes when the resolution target is missed."""
        now = SystemClock().now()
        due = now - timedelta(minutes=5)
        row = event_row(
            tenant.id,
            incident.id,
            "sla.breached",
            SYSTEM,
            now,
            changes={"target": "resolution", "dueAt": due.isoformat()},
            reason="resolution target missed",
        )
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            write_events(session, [row])

    def test_the_assignee_is_told(
        self, db: Database, settings: Settings, tenant: TenantKeys, mail_sink: MailSink
    ) -> None:
        admin = add_member(db, tenant, Role.TENANT_ADMIN)
        incident = open_incident(db, tenant, assignee=tenant.member_email)
        self.breach(db, tenant, incident)
        run_mail_jobs(db, settings, tenant.id, 2)  # the assignment and the breach
        sla = [m for m in mail_sink.wait(tenant.member_email, lambda ms: len(ms) == 2)]
        [breach] = [m for m in sla if m["X-Muster-Kind"] == "sla"]
        assert breach["Subject"] == (
            f"[{incident.incident_hash}] SLA breached (resolution): {incident.description}"
        )
        text = self.text(breach)
        assert "has breached its resolution SLA: it was due at" in text
        assert "tenant admins receive" not in text
        assert mail_sink.messages(admin.email) == []

    def test_the_admins_are_told_when_nobody_is_assigned(
        self, db: Database, settings: Settings, tenant: TenantKeys, mail_sink: MailSink
    ) -> None:
        first, second = (add_member(db, tenant, Role.TENANT_ADMIN) for _ in range(2))
        incident = open_incident(db, tenant)
        self.breach(db, tenant, incident)
        run_mail_jobs(db, settings, tenant.id, 1)
        [message] = mail_sink.wait(first.email)
        assert {a.strip() for a in message["To"].split(",")} == {
            f"{first.name} <{first.email}>",
            f"{second.name} <{second.email}>",
        }
        assert "has no assignee, so its tenant admins receive this message" in self.text(message)
        assert mail_sink.messages(tenant.member_email) == []  # an analyst, not an admin

    @staticmethod
    def text(message: EmailMessage) -> str:
        body = message.get_body()
        assert body is not None
        return str(body.get_content())


# ------------------------------------------------------------------ delivery failures


class Refusing:
    """An SMTP server that refuses every message for good."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "554 5.7.1 rejected as spam"


@pytest.fixture()
def refusing_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port, server_hostname="r")
    controller.start()
    yield port
    controller.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class TestDeliveryFailures:
    """The handler with SMTP servers that fail; its jobs have a kind of their own, so no
    other worker takes them."""

    def claimed(self, db: Database, tenant: TenantKeys) -> Any:
        incident = open_incident(db, tenant)
        kind = f"test.mail.{uuid.uuid4().hex}"
        now = SystemClock().now()
        payload = {
            "eventId": str(uuid.uuid4()),
            "kind": "assignment",
            "incidentId": str(incident.id),
            "actor": "apikey:gone",
            "actorType": "apikey",
            "assignee": tenant.member_email,
        }
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            enqueue(session, kind, payload, run_at=now, now=now)
        [job] = claim(db, "mail-tests", now, limit=1, lease=timedelta(seconds=30), kinds=[kind])
        return job

    def test_a_refusal_is_final_and_counted(
        self, db: Database, settings: Settings, tenant: TenantKeys, refusing_port: int
    ) -> None:
        job = self.claimed(db, tenant)
        own = Settings(**{**settings.model_dump(), "smtp_port": refusing_port})
        before = counted("refused")
        handlers(db, own, SystemClock())[NOTIFY_JOB](job, SystemClock().now())
        with db.engine.connect() as conn:
            state = conn.execute(select(JOBS.c.state).where(JOBS.c.id == job.id)).scalar_one()
        assert state == "done"  # not retried
        assert counted("refused") >= before + 1

    def test_an_unreachable_server_is_retried(
        self, db: Database, settings: Settings, tenant: TenantKeys
    ) -> None:
        job = self.claimed(db, tenant)
        own = Settings(**{**settings.model_dump(), "smtp_port": closed_port()})
        before = counted("failed")
        with pytest.raises(RetryableError):
            handlers(db, own, SystemClock())[NOTIFY_JOB](job, SystemClock().now())
        assert counted("failed") >= before + 1
