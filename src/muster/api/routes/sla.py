"""`/api/v1/sla/policy`: the tenant's SLA policy (docs/sla.md)."""

from __future__ import annotations

from fastapi import APIRouter

from muster.api.deps import AdminCtx, ReadCtx
from muster.sla import service
from muster.sla.policy import SlaPolicyDocument
from muster.sla.schemas import SlaPolicyRead

router = APIRouter(prefix="/sla", tags=["sla"])


@router.get("/policy", response_model=SlaPolicyRead, summary="The tenant's effective SLA policy")
def get_policy(ctx: ReadCtx) -> SlaPolicyRead:
    return SlaPolicyRead.of_policy(service.get_policy(ctx.session))


@router.put(
    "/policy",
    response_model=SlaPolicyRead,
    summary="Set the tenant's SLA policy (for incidents opened or re-timed from now on)",
)
def put_policy(ctx: AdminCtx, body: SlaPolicyDocument) -> SlaPolicyRead:
    policy = service.put_policy(ctx.session, body, ctx.now, actor=ctx.principal.actor)
    return SlaPolicyRead.of_policy(policy)


@router.delete("/policy", response_model=SlaPolicyRead, summary="Go back to the default policy")
def delete_policy(ctx: AdminCtx) -> SlaPolicyRead:
    policy = service.delete_policy(ctx.session, ctx.now, actor=ctx.principal.actor)
    return SlaPolicyRead.of_policy(policy)
