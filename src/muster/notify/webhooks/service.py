"""Webhook subscriptions of the session's tenant, their delivery log, redelivery and test pings.

Every change is written to the tenant's audit log (subject type `webhook`) and makes this
process's fan-out forget the tenant's cached subscriptions (`fanout.forget_on_commit`). A
target URL is checked against the SSRF rule (`targets.check_target`) whenever it is set.
Disabling a subscription (by an admin or after repeated failures) fails its pending deliveries.
Services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from muster.config import Settings
from muster.db.tenancy import tenant_id_of
from muster.errors import Conflict, InvalidInput, NotFound
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.incidents.timeline import record
from muster.models import Tenant
from muster.models.webhook import WebhookDelivery, WebhookSubscription
from muster.notify.events import EVENT_TYPES
from muster.notify.webhooks import fanout, payloads, signing, targets
from muster.notify.webhooks.repository import ALL_EVENTS
from muster.notify.webhooks.schemas import WebhookCreate, WebhookUpdate
from muster.pagination import SortKey, apply_keyset, page

DNS_CHECK_SECONDS = 5.0  # bound on resolving a URL's host while saving it
DELIVERIES_SORT = SortKey("createdAt", WebhookDelivery.created_at, descending=True)
SETTINGS = ("name", "url", "events", "signature_style", "enabled")


def known_event_types(events: Sequence[str]) -> list[str]:
    """The requested types, deduplicated and sorted (`["*"]` for everything); InvalidInput
    naming every unknown one."""
    wanted = sorted({e.strip() for e in events})
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    unknown = [e for e in wanted if e not in EVENT_TYPES]
    if unknown:
        message = f"unknown event types {unknown}; known: {list(EVENT_TYPES)} or '*'"
        raise InvalidInput(
            f"events: {message}",
            code="webhook.unknown_event_type",
            errors=[{"field": "events", "message": message, "unknown": unknown}],
        )
    return wanted


def get_subscription(session: Session, webhook_id: uuid.UUID) -> WebhookSubscription:
    """The subscription, or `NotFound` (also for another tenant's id)."""
    found = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.id == webhook_id)
    ).first()
    if found is None:
        raise NotFound("webhook", webhook_id)
    return found


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """The tenant's subscriptions, oldest first."""
    stmt = select(WebhookSubscription).order_by(
        WebhookSubscription.created_at, WebhookSubscription.id
    )
    return list(session.scalars(stmt))


def create_subscription(
    session: Session, data: WebhookCreate, settings: Settings, actor: Actor, now: datetime
) -> tuple[WebhookSubscription, str]:
    """Save a subscription; return it with its secret (shown this once)."""
    _check_url(data.url, settings)
    secret = data.secret or signing.new_secret()
    subscription = WebhookSubscription(
        id=new_id(),
        tenant_id=tenant_id_of(session),
        name=data.name,
        url=data.url,
        events=known_event_types(data.events),
        secret=secret,
        signature_style=data.signature_style,
        enabled=data.enabled,
        disabled_reason=None if data.enabled else "created disabled",
        consecutive_failures=0,
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    _audit(session, subscription, "webhook.created", actor, now, _settings_of(subscription))
    return subscription, secret


def update_subscription(
    session: Session,
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
    settings: Settings,
    actor: Actor,
    now: datetime,
) -> tuple[WebhookSubscription, str | None]:
    """Apply a PATCH; return the subscription and its new secret when one was set or rotated."""
    subscription = get_subscription(session, webhook_id)
    requested = data.model_dump(exclude_unset=True, exclude={"rotate_secret", "secret"})
    for name in SETTINGS:
        if name in requested and requested[name] is None:
            raise InvalidInput.field(_api_name(name), "must not be null")
    if "url" in requested and requested["url"] != subscription.url:
        _check_url(requested["url"], settings)
    if "events" in requested:
        requested["events"] = known_event_types(requested["events"])
    before = _settings_of(subscription)
    for name, value in requested.items():
        if name != "enabled":
            setattr(subscription, name, value)
    secret = data.secret or (signing.new_secret() if data.rotate_secret else None)
    if secret is not None:
        subscription.secret = secret
    enabled = requested.get("enabled")
    if enabled is True and not subscription.enabled:
        subscription.enabled, subscription.disabled_reason = True, None
        subscription.consecutive_failures = 0
    elif enabled is False and subscription.enabled:
        disable(session, subscription, f"disabled by {actor.name}", actor, now, audit=False)
    changes: dict[str, Any] = {
        name: [before[name], after]
        for name, after in _settings_of(subscription).items()
        if after != before[name]
    }
    if secret is not None:
        changes["secret"] = "replaced"
    if changes:
        subscription.updated_at = now
        session.flush()
        _audit(session, subscription, "webhook.updated", actor, now, changes)
    return subscription, secret


def delete_subscription(
    session: Session, webhook_id: uuid.UUID, actor: Actor, now: datetime
) -> None:
    """Delete a subscription and its delivery log (queued attempts then find nothing to do)."""
    subscription = get_subscription(session, webhook_id)
    _audit(session, subscription, "webhook.deleted", actor, now, _settings_of(subscription))
    session.delete(subscription)
    session.flush()


def disable(
    session: Session,
    subscription: WebhookSubscription,
    reason: str,
    actor: Actor,
    now: datetime,
    *,
    audit: bool = True,
) -> int:
    """Disable the subscription and fail its pending deliveries; return how many were failed."""
    subscription.enabled = False
    subscription.disabled_reason = reason
    subscription.updated_at = now
    session.flush()  # the subscription row first, then its deliveries: one lock order everywhere
    result: Any = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.state == "pending",
        )
        .values(state="failed", last_error="subscription disabled")
        .execution_options(synchronize_session=False)
    )
    failed = int(result.rowcount or 0)
    fanout.forget_on_commit(session, subscription.tenant_id)
    if audit:
        changes = {"enabled": [True, False], "pendingFailed": failed}
        record(
            session,
            subscription.id,
            "webhook.disabled",
            actor,
            now,
            changes=changes,
            reason=reason,
            subject_type="webhook",
        )
    return failed


def list_deliveries(
    session: Session,
    webhook_id: uuid.UUID,
    *,
    state: str | None = None,
    event_type: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[WebhookDelivery], str | None]:
    """One page of the subscription's deliveries, newest first, and the next page's cursor."""
    get_subscription(session, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == webhook_id)
    if state is not None:
        stmt = stmt.where(WebhookDelivery.state == state)
    if event_type is not None:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    stmt = apply_keyset(stmt, DELIVERIES_SORT, WebhookDelivery.id, cursor, limit)
    return page(list(session.scalars(stmt)), DELIVERIES_SORT, limit)


def get_delivery(
    session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """One delivery of the subscription, or `NotFound`."""
    found = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == webhook_id
        )
    ).first()
    if found is None:
        get_subscription(session, webhook_id)  # say which of the two is missing
        raise NotFound("webhook_delivery", delivery_id)
    return found


def redeliver(
    session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID, actor: Actor, now: datetime
) -> WebhookDelivery:
    """A new delivery (attempts from 1) of the same event and body, sent as soon as possible."""
    original = get_delivery(session, webhook_id, delivery_id)
    subscription = get_subscription(session, webhook_id)
    if not subscription.enabled:
        raise Conflict(
            "the webhook is disabled; re-enable it (PATCH enabled=true) to redeliver",
            code="webhook.disabled",
        )
    copy = _queue(session, subscription, original.event_type, original.payload, now)
    copy.event_id = original.event_id
    session.flush()
    changes = {"deliveryId": str(original.id), "redeliveryId": str(copy.id)}
    _audit(session, subscription, "webhook.redelivered", actor, now, changes)
    return copy


def send_test(
    session: Session, webhook_id: uuid.UUID, actor: Actor, now: datetime
) -> WebhookDelivery:
    """Queue a `ping` (isTest) delivery: sent once, even to a disabled subscription, without
    changing its health."""
    subscription = get_subscription(session, webhook_id)
    tenant = session.get(Tenant, subscription.tenant_id)
    tenant_ref = (subscription.tenant_id, tenant.name if tenant else "")
    ident = new_id()
    body = payloads.ping_payload(subscription.id, subscription.name, tenant_ref, now, ident)
    if subscription.signature_style == "contraforce":
        body = payloads.contraforce_envelope(body)
    delivery = _queue(session, subscription, payloads.PING, body, now)
    delivery.event_id = ident
    session.flush()
    _audit(session, subscription, "webhook.tested", actor, now, {"deliveryId": str(delivery.id)})
    return delivery


def _queue(
    session: Session,
    subscription: WebhookSubscription,
    event_type: str,
    body: dict[str, Any],
    now: datetime,
) -> WebhookDelivery:
    row = fanout.delivery_row(subscription.tenant_id, subscription.id, event_type, body, now)
    delivery = WebhookDelivery(**row)
    session.add(delivery)
    session.flush()
    fanout.enqueue_attempt(session, delivery.id, subscription.tenant_id, 1, now, now=now)
    return delivery


def _check_url(url: str, settings: Settings) -> None:
    timeout = min(DNS_CHECK_SECONDS, settings.webhook_timeout_seconds)
    targets.check_target(url, allow_private=settings.webhook_allow_private_targets, timeout=timeout)


def _settings_of(subscription: WebhookSubscription) -> dict[str, Any]:
    return {_api_name(name): getattr(subscription, name) for name in SETTINGS}


def _api_name(name: str) -> str:
    return "signatureStyle" if name == "signature_style" else name


def _audit(
    session: Session,
    subscription: WebhookSubscription,
    action: str,
    actor: Actor,
    now: datetime,
    changes: dict[str, Any],
) -> None:
    fanout.forget_on_commit(session, subscription.tenant_id)
    record(
        session,
        subscription.id,
        action,
        actor,
        now,
        changes=changes,
        reason=f"webhook {subscription.name!r}",
        subject_type="webhook",
    )
