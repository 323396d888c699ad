"""The worker's webhook delivery handler: one job per attempt of one delivery.

A `webhook.deliver` job (`{deliveryId, attempt}`) runs in three steps:

1. read the delivery and its subscription (a read transaction); a job whose attempt was already
   recorded, or whose delivery is gone (subscription deleted), completes doing nothing, and a
   delivery of a disabled subscription is failed;
2. POST the frozen body, signed now, outside any transaction (`sender.post`: the address
   check, no redirects, bounded by `webhook_timeout_seconds`);
3. in one transaction: lock the subscription row, append the attempt to the delivery's log,
   apply `policy.after_attempt` (state, next attempt's job, the subscription's failure count,
   disabling it with an audit entry), and complete the job.

Delivery is at least once: a worker that dies between 2 and 3 leaves the job to be taken over
after its lease, and the body is sent again with the same `X-Muster-Delivery` id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy.orm import Session

from muster import telemetry
from muster.clock import Clock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import SYSTEM
from muster.models.webhook import WebhookDelivery, WebhookSubscription
from muster.notify.webhooks import payloads, policy, sender, signing
from muster.notify.webhooks.fanout import DELIVER, enqueue_attempt
from muster.notify.webhooks.service import disable
from muster.worker.jobs import ClaimedJob, LeaseLost, complete, extend
from muster.worker.loop import Handler

log = structlog.get_logger("muster.webhooks")

LEASE_MARGIN = timedelta(seconds=15)  # kept beyond the attempt's timeout while it runs


@dataclass(frozen=True, slots=True)
class Plan:
    """What one attempt sends, read before sending."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    attempt: int
    url: str
    secret: str
    style: str
    event_type: str
    event_id: uuid.UUID
    payload: dict[str, Any]

    @property
    def is_test(self) -> bool:
        """A test ping: one attempt, no effect on the subscription's health."""
        return self.event_type == payloads.PING


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send; `fail` says whether the delivery must be failed (subscription off)."""

    subscription_id: uuid.UUID | None
    fail: bool


class Deliverer:
    """Runs `webhook.deliver` jobs."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def __call__(self, job: ClaimedJob, now: datetime) -> None:
        """Make attempt `job.payload["attempt"]` of the delivery, and record it."""
        assert job.tenant_id is not None
        ctx = TenantContext(job.tenant_id)
        delivery_id = uuid.UUID(str(job.payload["deliveryId"]))
        attempt = int(job.payload["attempt"])
        with unit_of_work(self.db, ctx) as session:
            plan = _plan(session, delivery_id, attempt)
        if isinstance(plan, Skip):
            with unit_of_work(self.db, ctx, write=True) as session:
                if plan.fail and plan.subscription_id is not None:
                    _fail_disabled(session, delivery_id, plan.subscription_id)
                _finish(session, job, self.clock.now())
            return
        if not self._hold(job):
            return
        result = self._send(plan)
        with unit_of_work(self.db, ctx, write=True) as session:
            self._record(session, job, plan, result)
        telemetry.WEBHOOK_ATTEMPTS.labels(result=result.outcome).inc()
        log.info(
            "webhook_attempt",
            delivery=str(plan.delivery_id),
            attempt=attempt,
            outcome=result.outcome,
            status=result.status_code,
            error=result.error,
        )

    def _hold(self, job: ClaimedJob) -> bool:
        """Make the job's lease outlast the attempt; False when the job was taken over."""
        needed = self.clock.now() + timedelta(seconds=self.settings.webhook_timeout_seconds)
        if job.locked_until >= needed + LEASE_MARGIN / 2:
            return True
        return extend(self.db, job.id, job.locked_by, needed + LEASE_MARGIN)

    def _send(self, plan: Plan) -> policy.AttemptResult:
        body = orjson.dumps(payloads.render(plan.payload, self.settings.public_url))
        headers = signing.headers(
            plan.style,
            secret=plan.secret,
            timestamp=int(self.clock.now().timestamp()),
            body=body,
            event_type=plan.event_type,
            event_id=str(plan.event_id),
            delivery_id=str(plan.delivery_id),
        )
        return sender.post(
            plan.url,
            body,
            headers,
            timeout=self.settings.webhook_timeout_seconds,
            allow_private=self.settings.webhook_allow_private_targets,
        )

    def _record(
        self, session: Session, job: ClaimedJob, plan: Plan, result: policy.AttemptResult
    ) -> None:
        """Write the attempt's outcome and complete the job, in the caller's transaction."""
        now = self.clock.now()
        subscription = session.get(WebhookSubscription, plan.subscription_id, with_for_update=True)
        delivery = session.get(WebhookDelivery, plan.delivery_id, with_for_update=True)
        if subscription is None or delivery is None or not _due(delivery, plan.attempt):
            _finish(session, job, now)  # deleted, disabled meanwhile, or recorded already
            return
        failures = subscription.consecutive_failures
        if not plan.is_test:
            failures = 0 if result.ok else failures + 1
            subscription.consecutive_failures = failures
            subscription.last_delivery_at = now
        verdict = policy.after_attempt(
            plan.attempt,
            result,
            failures,
            now,
            max_attempts=self.settings.webhook_max_attempts,
            retry_base=timedelta(seconds=self.settings.webhook_retry_base_seconds),
            disable_after=self.settings.webhook_disable_after_failures,
            is_test=plan.is_test,
        )
        delivery.attempts = plan.attempt
        delivery.log = [*delivery.log, policy.log_entry(plan.attempt, now, result)]
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.state = verdict.state
        if result.ok:
            delivery.delivered_at = now
        session.flush()
        if verdict.retry_at is not None:
            enqueue_attempt(
                session,
                delivery.id,
                delivery.tenant_id,
                plan.attempt + 1,
                verdict.retry_at,
                now=now,
            )
        if verdict.disable_reason is not None and subscription.enabled:
            disable(session, subscription, verdict.disable_reason, SYSTEM, now)
        _finish(session, job, now)


def handlers(db: Database, settings: Settings, clock: Clock) -> dict[str, Handler]:
    """Webhook job handlers by job kind."""
    return {DELIVER: Deliverer(db, settings, clock)}


def _plan(session: Session, delivery_id: uuid.UUID, attempt: int) -> Plan | Skip:
    """What to send for this attempt, or why nothing is sent."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or not _due(delivery, attempt):
        return Skip(None, fail=False)
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None:
        return Skip(None, fail=False)
    if not subscription.enabled and delivery.event_type != payloads.PING:
        return Skip(subscription.id, fail=True)
    return Plan(
        delivery.id,
        subscription.id,
        attempt,
        subscription.url,
        subscription.secret,
        subscription.signature_style,
        delivery.event_type,
        delivery.event_id,
        dict(delivery.payload),
    )


def _due(delivery: WebhookDelivery, attempt: int) -> bool:
    """The delivery still waits for exactly this attempt."""
    return delivery.state == policy.PENDING and delivery.attempts == attempt - 1


def _fail_disabled(session: Session, delivery_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
    session.get(WebhookSubscription, subscription_id, with_for_update=True)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is not None and delivery.state == policy.PENDING:
        delivery.state = policy.FAILED
        delivery.last_error = "subscription disabled"


def _finish(session: Session, job: ClaimedJob, now: datetime) -> None:
    if not complete(session, job.id, job.locked_by, now=now):
        raise LeaseLost(job.id)
