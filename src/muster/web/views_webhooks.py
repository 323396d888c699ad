"""Webhook pages as they show: subscriptions, the create form's values, delivery rows (pure)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.models.webhook import WebhookDelivery, WebhookSubscription
from muster.notify.webhooks.schemas import WebhookCreate
from muster.web.security import Form


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery in the log (its latest attempt)."""

    id: uuid.UUID
    event_type: str
    state: str
    status_code: int | None
    attempt: int
    at: datetime
    error: str | None


def webhook_create(form: Form) -> WebhookCreate:
    """The create form as the API's body: events are comma separated; a blank secret is
    generated (pydantic names any bad field)."""
    events = [e.strip() for e in form.get("events").split(",") if e.strip()]
    body: dict[str, Any] = {
        "name": form.get("name").strip(),
        "url": form.get("url").strip(),
        "events": events,
        "signatureStyle": form.get("signatureStyle") or "standard",
    }
    if form.get("secret").strip():
        body["secret"] = form.get("secret").strip()
    return WebhookCreate.model_validate(body)


def delivery_row(delivery: WebhookDelivery) -> DeliveryRow:
    """What the log shows of a delivery: its last attempt's time, or when it was queued."""
    last = delivery.log[-1] if delivery.log else {}
    at = last.get("at") if isinstance(last, dict) else None
    return DeliveryRow(
        delivery.id,
        delivery.event_type,
        delivery.state,
        delivery.last_status_code,
        delivery.attempts,
        _instant(at) or delivery.created_at,
        delivery.last_error,
    )


def _instant(value: Any) -> datetime | None:
    """A log entry's time (stored as ISO 8601 text), or None when it has none."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def secret_hint(subscription: WebhookSubscription) -> str:
    """The secret's last four characters, as the API shows them."""
    return f"…{subscription.secret[-4:]}"
