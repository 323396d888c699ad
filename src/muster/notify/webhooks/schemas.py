"""Webhook API schemas: subscriptions (`Webhook*`) and their delivery log (`WebhookDelivery*`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from muster.schema_base import ApiModel, Name, ReadModel

Style = Literal["standard", "contraforce"]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)]
EventTypes = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=50, examples=[["incident.created", "sla.breached"]]),
]
# printable ASCII without spaces: the HMAC key is its UTF-8 bytes, unambiguous on every side
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^[!-~]+$")]
DeliveryState = Literal["pending", "delivered", "failed"]


class WebhookCreate(ApiModel):
    """A subscription: where to POST which events, and how to sign them."""

    name: Name
    url: Url = Field(description="http(s) URL; private and loopback addresses are refused")
    events: EventTypes = Field(description='event types, or ["*"] for every type')
    secret: Secret | None = Field(
        None, description="the HMAC key; generated when absent (returned once, in this answer)"
    )
    signature_style: Style = "standard"
    enabled: bool = True


class WebhookUpdate(ApiModel):
    """Fields to change. `enabled: true` re-enables a disabled subscription (its failure count
    starts again at 0); `rotateSecret: true` generates a new secret, returned once."""

    name: Name | None = None
    url: Url | None = None
    events: EventTypes | None = None
    secret: Secret | None = None
    rotate_secret: bool = False
    signature_style: Style | None = None
    enabled: bool | None = None


class WebhookRead(ReadModel):
    """A subscription and its health. `secret` is present only in the answer that created or
    rotated it; `secretHint` shows its last four characters."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    url: str
    events: list[str]
    signature_style: Style
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    last_delivery_at: datetime | None
    secret_hint: str
    secret: str | None = None
    created_at: datetime
    updated_at: datetime


class AttemptRead(ReadModel):
    """One attempt of a delivery."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    address: str | None = Field(None, description="the IP address connected to")


class WebhookDeliveryListItem(ReadModel):
    """A delivery in the log: one event sent to one subscription, with every attempt."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptRead]


class WebhookDeliveryRead(WebhookDeliveryListItem):
    """A delivery with the body it sends (frozen when the event happened)."""

    payload: dict[str, Any]


class WebhookDeliveryPage(ReadModel):
    """Deliveries, newest first."""

    items: list[WebhookDeliveryListItem]
    next_cursor: str | None
