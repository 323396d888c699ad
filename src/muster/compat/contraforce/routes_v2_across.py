"""Cross-workspace routes of the ContraForce v2 API: the merged incident list and the bulk
update over every workspace the credential may see."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from muster.api.deps import authenticates, system_unit, tenant_unit
from muster.auth.principal import Principal
from muster.compat.contraforce import bulk, listing
from muster.compat.contraforce.auth import require_writer, v2_principal, workspace_unit
from muster.compat.contraforce.envelopes import v2_data, v2_page
from muster.compat.contraforce.schemas import AcrossWorkspacesRequest, BulkUpdateRequest
from muster.errors import Forbidden, InvalidInput
from muster.models.enums import Role


@authenticates
async def account_caller(request: Request) -> Principal:
    """The caller of the cross-workspace routes (HTTP Basic)."""
    return await v2_principal(request)


Caller = Annotated[Principal, Depends(account_caller)]

router = APIRouter(prefix="/incidents/across-workspaces")


@router.post("", summary="Incidents of every workspace the credential may see, newest first")
def across(request: Request, who: Caller, body: AcrossWorkspacesRequest) -> dict[str, Any]:
    if who.is_global:
        with system_unit(request, who, write=False) as sys:
            data, token = listing.across(sys.session, body, (), sys.now)
            return v2_page(data, token, sys.now)
    with tenant_unit(request, who, None, Role.VIEWER, write=False) as ctx:
        data, token = listing.across(ctx.session, body, (ctx.tenant_id,), ctx.now)
        return v2_page(data, token, ctx.now)


@router.post("/bulk-update", summary="Change many incidents; forbidden ones are listed")
async def bulk_update(request: Request, who: Caller, body: BulkUpdateRequest) -> dict[str, Any]:
    require_writer(who)
    planned = bulk.plan(body.items)
    groups: dict[str, list[bulk.Planned]] = {}
    for item in planned:
        groups.setdefault(item.workspace_id.lower(), []).append(item)
    refused: list[bulk.Planned] = []
    admitted: dict[str, tuple[Principal, list[bulk.Planned]]] = {}
    for workspace, items in groups.items():
        try:
            admitted[workspace] = (await v2_principal(request, workspace), items)
        except Forbidden:  # not a workspace of this credential: listed, not revealed
            refused.extend(items)
    held: dict[str, tuple[Principal, list[bulk.Planned]]] = {}
    for workspace, (acting, items) in admitted.items():
        found, missing = await run_in_threadpool(_resolve, request, acting, workspace, items)
        held[workspace] = (acting, found)
        refused.extend(missing)
    errors = [e for _, items in held.values() for item in items for e in item.errors]
    if errors:
        raise InvalidInput(
            f"{len(errors)} invalid value(s) in items; nothing was changed", errors=errors
        )
    accepted: list[str] = []
    now = None
    for workspace, (acting, items) in held.items():
        done, now = await run_in_threadpool(_apply, request, acting, workspace, items)
        accepted.extend(done)
    refused.sort(key=lambda item: item.index)
    if now is None:
        now = request.app.state.services.clock.now()
    return v2_data({"accepted": accepted, "forbidden": [bulk.forbidden(i) for i in refused]}, now)


def _resolve(
    request: Request, who: Principal, workspace: str, items: Sequence[bulk.Planned]
) -> tuple[list[bulk.Planned], list[bulk.Planned]]:
    with workspace_unit(request, who, workspace, write=False) as ctx:
        return bulk.resolve(ctx.session, items)


def _apply(
    request: Request, who: Principal, workspace: str, items: Sequence[bulk.Planned]
) -> tuple[list[str], Any]:
    with workspace_unit(request, who, workspace, write=True) as ctx:
        return bulk.apply(ctx.session, items, who.actor, ctx.now), ctx.now
