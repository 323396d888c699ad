"""Webhook fan-out and the delivery handler against a real database, a real worker and a real
loopback receiver, with settings chosen per test (the SSRF rule at delivery time, 410 Gone,
test pings, deleted subscriptions, the per-process subscription cache).

The module has a database of its own, so no other worker (the shared test server's) takes its
`webhook.deliver` jobs.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.api.webhook_receiver import Receiver, receiving
from tests.conftest import fresh_database_url
from tests.factories import make_tenant

from muster import telemetry
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import create_incident
from muster.incidents.timeline import event_row, write_events
from muster.models import AuditEvent
from muster.models.webhook import WebhookDelivery, WebhookSubscription
from muster.notify.webhooks import service
from muster.notify.webhooks.delivery import handlers
from muster.notify.webhooks.fanout import CACHE_SECONDS, DELIVER
from muster.notify.webhooks.schemas import WebhookCreate
from muster.notify.webhooks.signing import verify
from muster.worker.jobs import JOBS
from muster.worker.loop import Worker

ACTOR = Actor("apikey", "apikey:tests", "tests")
CLOCK = SystemClock()
SECRET = "service-test-secret-0123"


@pytest.fixture(scope="module")
def url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database_url(backend, f"webhook_delivery_{os.getpid()}", tmp_path_factory) as found:
        upgrade(Settings(database_url=found))
        yield found


@pytest.fixture(scope="module")
def db(url: str) -> Iterator[Database]:
    database = create_db_engine(Settings(database_url=url))
    yield database
    database.dispose()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def configured(url: str, **over: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": url,
        "webhook_allow_private_targets": True,
        "webhook_retry_base_seconds": 0.05,
        "webhook_max_attempts": 3,
    }
    return Settings(**(base | over))


@contextmanager
def working(db: Database, settings: Settings) -> Iterator[None]:
    """A worker running only webhook deliveries with `settings`, for the block."""
    worker = Worker(db, handlers(db, settings, CLOCK), clock=CLOCK, poll_seconds=0.05)
    worker.start()
    try:
        yield
    finally:
        worker.stop()


def subscribe(db: Database, tenant_id: uuid.UUID, target: str, events: list[str]) -> uuid.UUID:
    """A subscription saved through the service (with private targets allowed)."""
    data = WebhookCreate(name="svc", url=target, events=events, secret=SECRET)
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        settings = Settings(webhook_allow_private_targets=True)
        created, _ = service.create_subscription(session, data, settings, ACTOR, CLOCK.now())
        return created.id


def open_incidents(db: Database, tenant_id: uuid.UUID, count: int = 1) -> list[uuid.UUID]:
    """Open `count` incidents by hand in one transaction."""
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        return [
            create_incident(session, IncidentCreate(description=f"n{n}"), ACTOR, CLOCK.now()).id
            for n in range(count)
        ]


def deliveries(db: Database, tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    """The tenant's deliveries, oldest first."""
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        return list(session.scalars(stmt))


def subscription(db: Database, tenant_id: uuid.UUID, ident: uuid.UUID) -> WebhookSubscription:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        found = session.get(WebhookSubscription, ident)
        assert found is not None
        return found


def settle(db: Database, tenant_id: uuid.UUID, count: int) -> list[WebhookDelivery]:
    """Wait until the tenant has `count` deliveries and none is pending."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = deliveries(db, tenant_id)
        if len(found) >= count and all(d.state != "pending" for d in found):
            return found
        time.sleep(0.05)
    pytest.fail(f"deliveries did not settle: {[(d.state, d.attempts) for d in found]}")


def counted(result: str) -> float:
    return telemetry.WEBHOOK_ATTEMPTS.labels(result=result)._value.get()


class TestFanOut:
    def test_a_tenant_without_subscriptions_gets_nothing(self, db: Database) -> None:
        tenant = make_tenant(db)
        open_incidents(db, tenant.id, 3)
        assert deliveries(db, tenant.id) == []
        with unit_of_work(db, SystemContext()) as session:
            jobs = session.connection().execute(
                select(JOBS.c.id).where(JOBS.c.tenant_id == tenant.id, JOBS.c.kind == DELIVER)
            )
            assert jobs.all() == []

    def test_changes_here_show_at_once_elsewhere_within_the_cache_time(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        tenant = make_tenant(db)
        open_incidents(db, tenant.id)  # the empty set is cached now
        first = subscribe(db, tenant.id, receiver.url(receiver.path()), ["incident.created"])
        open_incidents(db, tenant.id)
        assert [d.subscription_id for d in deliveries(db, tenant.id)] == [first]
        # another process adds a subscription: this one's cache does not know yet
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            now = CLOCK.now()
            session.add(
                WebhookSubscription(
                    name="elsewhere",
                    url=receiver.url(receiver.path()),
                    events=["*"],
                    secret=SECRET,
                    created_at=now,
                    updated_at=now,
                )
            )
        open_incidents(db, tenant.id)
        assert len(deliveries(db, tenant.id)) == 2
        time.sleep(CACHE_SECONDS + 0.05)
        open_incidents(db, tenant.id)
        assert len(deliveries(db, tenant.id)) == 4
        with working(db, configured(url)):
            settle(db, tenant.id, 4)

    def test_events_written_by_a_system_session(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        tenant = make_tenant(db)
        path = receiver.path()
        subscribe(db, tenant.id, receiver.url(path), ["sla.breached"])
        (incident_id,) = open_incidents(db, tenant.id)
        changes = {"target": "response", "dueAt": "2026-11-24T12:00:00Z"}
        with unit_of_work(db, SystemContext(), write=True) as session:
            row = event_row(
                tenant.id, incident_id, "sla.breached", SYSTEM, CLOCK.now(), changes=changes
            )
            write_events(session, [row])
        (delivery,) = deliveries(db, tenant.id)
        assert delivery.event_type == "sla.breached"
        assert delivery.payload["incident"]["id"] == str(incident_id)
        assert delivery.payload["changes"] == changes
        assert delivery.payload["actor"] == {"type": "system", "id": "system"}
        with working(db, configured(url)):
            settle(db, tenant.id, 1)
        (request,) = receiver.at(path)
        assert verify(SECRET, request.body, request.headers, now=time.time())


class TestDeliveryHandler:
    def test_the_address_is_checked_again_when_sending(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        """A subscription saved while its host was public (here: while the setting allowed it)
        is refused at delivery time once it points at a loopback address: nothing is sent."""
        tenant = make_tenant(db)
        path = receiver.path()
        subscribe(db, tenant.id, receiver.url(path), ["incident.created"])
        open_incidents(db, tenant.id)
        refused_before = counted("refused")
        with working(db, configured(url, webhook_allow_private_targets=False)):
            (delivery,) = settle(db, tenant.id, 1)
        assert delivery.state == "failed" and delivery.attempts == 3
        assert all(entry["statusCode"] is None for entry in delivery.log)
        assert all("loopback" in entry["error"] for entry in delivery.log)
        assert {entry["address"] for entry in delivery.log} == {"127.0.0.1"}
        assert receiver.at(path) == []
        assert counted("refused") - refused_before == 3

    def test_gone_disables_at_once_and_fails_the_pending(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        tenant = make_tenant(db)
        path = receiver.path()
        receiver.answer(path, 410)
        hook = subscribe(db, tenant.id, receiver.url(path), ["incident.created"])
        open_incidents(db, tenant.id, 2)
        with working(db, configured(url)):
            found = settle(db, tenant.id, 2)
        assert len(receiver.at(path)) == 1
        assert sorted((d.last_status_code or 0, d.last_error or "") for d in found) == [
            (0, "subscription disabled"),
            (410, "answered HTTP 410: receiver says no"),
        ]
        disabled = subscription(db, tenant.id, hook)
        assert disabled.enabled is False and "410" in (disabled.disabled_reason or "")
        with unit_of_work(db, TenantContext(tenant.id)) as session:
            (audit,) = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_id == hook, AuditEvent.action == "webhook.disabled"
                )
            )
        assert audit.subject_type == "webhook" and audit.actor_type == "system"
        assert audit.changes == {"enabled": [True, False], "pendingFailed": 1}

    def test_a_ping_is_sent_once_and_leaves_health_alone(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        tenant = make_tenant(db)
        path = receiver.path()
        receiver.answer(path, 500)
        hook = subscribe(db, tenant.id, receiver.url(path), ["incident.created"])
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            found = session.get(WebhookSubscription, hook)
            assert found is not None
            service.disable(session, found, "by hand", ACTOR, CLOCK.now())
            service.send_test(session, hook, ACTOR, CLOCK.now())
        with working(db, configured(url)):
            (ping,) = settle(db, tenant.id, 1)
        assert ping.event_type == "ping" and ping.state == "failed" and ping.attempts == 1
        assert len(receiver.at(path)) == 1  # sent although the subscription is disabled
        after = subscription(db, tenant.id, hook)
        assert after.consecutive_failures == 0 and after.last_delivery_at is None

    def test_a_deleted_subscription_drops_its_queued_attempts(
        self, db: Database, url: str, receiver: Receiver
    ) -> None:
        tenant = make_tenant(db)
        path = receiver.path()
        hook = subscribe(db, tenant.id, receiver.url(path), ["incident.created"])
        open_incidents(db, tenant.id)
        (delivery,) = deliveries(db, tenant.id)
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            service.delete_subscription(session, hook, ACTOR, CLOCK.now())
        key = f"{DELIVER}:{delivery.id}:1"
        with working(db, configured(url)):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with unit_of_work(db, SystemContext()) as session:
                    state = (
                        session.connection()
                        .execute(select(JOBS.c.state).where(JOBS.c.dedup_key == key))
                        .scalar_one()
                    )
                if state == "done":
                    break
                time.sleep(0.05)
        assert state == "done" and receiver.at(path) == []
        assert deliveries(db, tenant.id) == []

    def test_a_failed_attempt_queues_the_next_after_the_backoff(
        self, db: Database, url: str
    ) -> None:
        """Also: an attempt whose timeout outlasts the job's lease renews the lease first."""
        tenant = make_tenant(db)
        settings = configured(url, webhook_timeout_seconds=50, webhook_retry_base_seconds=30)
        hook = subscribe(db, tenant.id, "http://127.0.0.1:9/discard", ["incident.created"])
        open_incidents(db, tenant.id)
        worker = Worker(db, handlers(db, settings, CLOCK), clock=CLOCK, lease=timedelta(seconds=10))
        assert worker.run_once() == 1
        (delivery,) = deliveries(db, tenant.id)
        assert delivery.attempts == 1 and delivery.state == "pending"
        assert (delivery.last_error or "").startswith("ConnectError")
        assert subscription(db, tenant.id, hook).consecutive_failures == 1
        with unit_of_work(db, SystemContext()) as session:
            first, second = session.connection().execute(
                select(JOBS.c.state, JOBS.c.run_at)
                .where(JOBS.c.dedup_key.like(f"{DELIVER}:{delivery.id}:%"))
                .order_by(JOBS.c.created_at, JOBS.c.dedup_key)
            )
        assert first.state == "done" and second.state == "queued"
        attempted = datetime.fromisoformat(delivery.log[0]["at"].replace("Z", "+00:00"))
        assert abs((second.run_at - attempted).total_seconds() - 30) < 1
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            service.delete_subscription(session, hook, ACTOR, CLOCK.now())
