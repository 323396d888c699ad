"""Webhook pages: subscriptions with a create form, one subscription's delivery log with
redeliver and test buttons — via `muster.notify.webhooks.service`. Analysts read (deliveries
carry incident data); tenant admins change."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from muster.models.enums import Role
from muster.notify.webhooks import service
from muster.web.deps import ActionCtx, PageCtx, WebCtx
from muster.web.pages import base_of, page, see_other
from muster.web.views_access import chosen_tenant, may, require_role
from muster.web.views_webhooks import delivery_row, secret_hint, webhook_create

router = APIRouter()
DELIVERIES_SHOWN = 100


def _reader(ctx: WebCtx) -> uuid.UUID:
    tenant_id = chosen_tenant(ctx.tenant_id, "webhooks")
    require_role(ctx.viewer, tenant_id, Role.ANALYST)
    return tenant_id


def _admin(ctx: WebCtx) -> None:
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "webhooks"), Role.TENANT_ADMIN)


@router.get("/webhooks")
def webhooks(request: Request, ctx: PageCtx) -> Response:
    """The tenant's subscriptions and their health."""
    tenant_id = _reader(ctx)
    subscriptions = service.list_subscriptions(ctx.session)
    return page(
        request,
        "webhooks.html",
        ctx.viewer,
        subscriptions=subscriptions,
        hints={s.id: secret_hint(s) for s in subscriptions},
        can_edit=may(ctx.viewer, tenant_id, Role.TENANT_ADMIN),
    )


def _detail(
    request: Request, ctx: WebCtx, webhook_id: uuid.UUID, new_secret: str | None = None
) -> Response:
    subscription = service.get_subscription(ctx.session, webhook_id)
    deliveries, _ = service.list_deliveries(ctx.session, webhook_id, limit=DELIVERIES_SHOWN)
    return page(
        request,
        "webhook.html",
        ctx.viewer,
        hook=subscription,
        hint=secret_hint(subscription),
        new_secret=new_secret,
        deliveries=[delivery_row(d) for d in deliveries],
        can_edit=may(ctx.viewer, ctx.tenant_id, Role.TENANT_ADMIN),
    )


@router.post("/webhooks")
def create(request: Request, ctx: ActionCtx) -> Response:
    """Subscribe a URL; the answer shows the signing secret this once."""
    _admin(ctx)
    subscription, secret = service.create_subscription(
        ctx.session, webhook_create(ctx.form), ctx.settings, ctx.viewer.actor, ctx.now
    )
    return _detail(request, ctx, subscription.id, secret)


@router.get("/webhooks/{webhook_id}")
def webhook(request: Request, ctx: PageCtx, webhook_id: uuid.UUID) -> Response:
    """One subscription and its delivery log, newest first."""
    _reader(ctx)
    return _detail(request, ctx, webhook_id)


@router.post("/webhooks/{webhook_id}/test")
def test(request: Request, ctx: ActionCtx, webhook_id: uuid.UUID) -> Response:
    """Queue a test `ping` delivery."""
    _admin(ctx)
    service.send_test(ctx.session, webhook_id, ctx.viewer.actor, ctx.now)
    return see_other(f"{base_of(request)}/webhooks/{webhook_id}")


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
def redeliver(
    request: Request, ctx: ActionCtx, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> Response:
    """Send a delivery's event and body again, as a new delivery."""
    _admin(ctx)
    service.redeliver(ctx.session, webhook_id, delivery_id, ctx.viewer.actor, ctx.now)
    return see_other(f"{base_of(request)}/webhooks/{webhook_id}")
