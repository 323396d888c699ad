"""`/api/v1/grouping-rules`: the tenant's ordered grouping rules."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from muster.api.deps import AdminCtx, ReadCtx
from muster.grouping import service
from muster.grouping.schemas import GroupingRuleCreate, GroupingRuleRead, GroupingRuleUpdate

router = APIRouter(prefix="/grouping-rules", tags=["grouping rules"])


@router.get("", response_model=list[GroupingRuleRead], summary="Rules in evaluation order")
def list_(ctx: ReadCtx) -> list[GroupingRuleRead]:
    return [GroupingRuleRead.model_validate(r) for r in service.list_rules(ctx.session)]


@router.post("", response_model=GroupingRuleRead, status_code=201)
def create(ctx: AdminCtx, body: GroupingRuleCreate) -> GroupingRuleRead:
    rule = service.create_rule(ctx.session, body, ctx.now, actor=ctx.principal.actor)
    return GroupingRuleRead.model_validate(rule)


@router.get("/{rule_id}", response_model=GroupingRuleRead)
def get(ctx: ReadCtx, rule_id: uuid.UUID) -> GroupingRuleRead:
    return GroupingRuleRead.model_validate(service.get_rule(ctx.session, rule_id))


@router.patch("/{rule_id}", response_model=GroupingRuleRead)
def update(ctx: AdminCtx, rule_id: uuid.UUID, body: GroupingRuleUpdate) -> GroupingRuleRead:
    rule = service.update_rule(ctx.session, rule_id, body, ctx.now, actor=ctx.principal.actor)
    return GroupingRuleRead.model_validate(rule)


@router.delete("/{rule_id}", status_code=204)
def delete(ctx: AdminCtx, rule_id: uuid.UUID) -> Response:
    service.delete_rule(ctx.session, rule_id, ctx.now, actor=ctx.principal.actor)
    return Response(status_code=204)
