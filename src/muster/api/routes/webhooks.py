"""`/api/v1/webhooks`: the tenant's webhook subscriptions, their delivery log, redelivery and
test pings. Analysts and above read; only a tenant_admin writes (a subscription sends incident
data out of muster)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from muster.api.deps import AdminCtx, Ctx, ReadCtx
from muster.models.enums import Role
from muster.models.webhook import WebhookDelivery, WebhookSubscription
from muster.notify.webhooks import payloads, service
from muster.notify.webhooks.schemas import (
    WebhookCreate,
    WebhookDeliveryListItem,
    WebhookDeliveryPage,
    WebhookDeliveryRead,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
WRITE_NOTE = "Needs the tenant_admin role."


def _analyst(ctx: ReadCtx) -> Ctx:
    """A read session for analysts and above (delivery bodies hold incident data)."""
    ctx.principal.require(Role.ANALYST)
    return ctx


AnalystCtx = Annotated[Ctx, Depends(_analyst)]


def _read(subscription: WebhookSubscription, secret: str | None = None) -> WebhookRead:
    return WebhookRead.model_validate(
        {
            **{
                name: getattr(subscription, name)
                for name in WebhookRead.model_fields
                if name not in ("secret", "secret_hint")
            },
            "secret_hint": f"…{subscription.secret[-4:]}",
            "secret": secret,
        }
    )


def _delivery_fields(delivery: WebhookDelivery) -> dict[str, object]:
    return {
        name: getattr(delivery, name)
        for name in WebhookDeliveryListItem.model_fields
        if name != "webhook_id"
    } | {"webhook_id": delivery.subscription_id}


def _delivery(ctx: Ctx, delivery: WebhookDelivery) -> WebhookDeliveryRead:
    body = payloads.render(delivery.payload, ctx.settings.public_url)
    return WebhookDeliveryRead.model_validate(_delivery_fields(delivery) | {"payload": body})


@router.post(
    "",
    response_model=WebhookRead,
    status_code=201,
    summary="Subscribe a URL to event types; the answer shows the signing secret once",
    description=WRITE_NOTE,
)
def create(ctx: AdminCtx, body: WebhookCreate, response: Response) -> WebhookRead:
    subscription, secret = service.create_subscription(
        ctx.session, body, ctx.settings, ctx.principal.actor, ctx.now
    )
    response.headers["Location"] = f"/api/v1/webhooks/{subscription.id}"
    return _read(subscription, secret)


@router.get("", response_model=list[WebhookRead], summary="The tenant's subscriptions")
def list_(ctx: AnalystCtx) -> list[WebhookRead]:
    return [_read(s) for s in service.list_subscriptions(ctx.session)]


@router.get("/{webhook_id}", response_model=WebhookRead, summary="One subscription")
def get(ctx: AnalystCtx, webhook_id: uuid.UUID) -> WebhookRead:
    return _read(service.get_subscription(ctx.session, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookRead,
    summary="Change a subscription; enabled=true re-enables it, rotateSecret=true replaces "
    "the secret (shown once)",
    description=WRITE_NOTE,
)
def update(ctx: AdminCtx, webhook_id: uuid.UUID, body: WebhookUpdate) -> WebhookRead:
    subscription, secret = service.update_subscription(
        ctx.session, webhook_id, body, ctx.settings, ctx.principal.actor, ctx.now
    )
    return _read(subscription, secret)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Delete a subscription and its delivery log",
    description=WRITE_NOTE,
)
def delete(ctx: AdminCtx, webhook_id: uuid.UUID) -> Response:
    service.delete_subscription(ctx.session, webhook_id, ctx.principal.actor, ctx.now)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=WebhookDeliveryPage,
    summary="The delivery log, newest first (keyset paging)",
)
def deliveries(
    ctx: AnalystCtx,
    webhook_id: uuid.UUID,
    state: Literal["pending", "delivered", "failed"] | None = None,
    event_type: Annotated[str | None, Query(alias="eventType", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> WebhookDeliveryPage:
    items, next_cursor = service.list_deliveries(
        ctx.session, webhook_id, state=state, event_type=event_type, limit=limit, cursor=cursor
    )
    return WebhookDeliveryPage(
        items=[WebhookDeliveryListItem.model_validate(_delivery_fields(d)) for d in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}",
    response_model=WebhookDeliveryRead,
    summary="One delivery with its body and every attempt",
)
def delivery(ctx: AnalystCtx, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDeliveryRead:
    return _delivery(ctx, service.get_delivery(ctx.session, webhook_id, delivery_id))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveryRead,
    status_code=202,
    summary="Send the same event and body again, as a new delivery",
    description=WRITE_NOTE + " A disabled subscription answers 409 (webhook.disabled).",
)
def redeliver(ctx: AdminCtx, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDeliveryRead:
    return _delivery(
        ctx,
        service.redeliver(ctx.session, webhook_id, delivery_id, ctx.principal.actor, ctx.now),
    )


@router.post(
    "/{webhook_id}/test",
    response_model=WebhookDeliveryRead,
    status_code=202,
    summary="Send a test `ping` event (isTest) once; follow it in the delivery log",
    description=WRITE_NOTE,
)
def test(ctx: AdminCtx, webhook_id: uuid.UUID) -> WebhookDeliveryRead:
    return _delivery(ctx, service.send_test(ctx.session, webhook_id, ctx.principal.actor, ctx.now))
