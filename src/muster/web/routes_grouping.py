"""The grouping rules page: rules in evaluation order, enable/disable and move up/down
(tenant admins), through `muster.grouping.service`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from muster.grouping import service
from muster.grouping.schemas import GroupingRuleUpdate
from muster.models.enums import Role
from muster.web.deps import ActionCtx, PageCtx
from muster.web.pages import base_of, page, see_other
from muster.web.views_access import chosen_tenant, may, require_role
from muster.web.views_grouping import moved_position, rule_rows

router = APIRouter()


@router.get("/grouping")
def grouping(request: Request, ctx: PageCtx) -> Response:
    """The tenant's rules in order (controls for tenant admins)."""
    tenant_id = chosen_tenant(ctx.tenant_id, "grouping rules")
    return page(
        request,
        "grouping.html",
        ctx.viewer,
        rules=rule_rows(service.list_rules(ctx.session)),
        can_edit=may(ctx.viewer, tenant_id, Role.TENANT_ADMIN),
    )


@router.post("/grouping/{rule_id}/enabled")
def set_enabled(request: Request, ctx: ActionCtx, rule_id: uuid.UUID) -> Response:
    """Enable (`enabled=true`) or disable a rule."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "grouping rules"), Role.TENANT_ADMIN)
    change = GroupingRuleUpdate(enabled=ctx.form.get("enabled") == "true")
    service.update_rule(ctx.session, rule_id, change, ctx.now, actor=ctx.viewer.actor)
    return see_other(f"{base_of(request)}/grouping")


@router.post("/grouping/{rule_id}/move")
def move(request: Request, ctx: ActionCtx, rule_id: uuid.UUID) -> Response:
    """Move a rule one place up or down (`direction`); at either end nothing changes."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "grouping rules"), Role.TENANT_ADMIN)
    service.get_rule(ctx.session, rule_id)  # another tenant's rule: 404
    position = moved_position(service.list_rules(ctx.session), rule_id, ctx.form.get("direction"))
    if position is not None:
        change = GroupingRuleUpdate(position=position)
        service.update_rule(ctx.session, rule_id, change, ctx.now, actor=ctx.viewer.actor)
    return see_other(f"{base_of(request)}/grouping")
