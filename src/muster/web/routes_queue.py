"""The incident queue: the page, its self-refreshing rows, bulk assign and resolve."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from muster.api.deps import services
from muster.db import SystemContext, unit_of_work
from muster.errors import InvalidInput, NotFound
from muster.incidents.listing import list_incidents
from muster.incidents.schemas import IncidentListItem
from muster.incidents.service import change_incident
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus, Resolution
from muster.sla import repository as sla_repository
from muster.sla.service import SlaView
from muster.sla.service import view as sla_view
from muster.tenants.users import members
from muster.web.deps import CheckedForm, PageCtx, ViewerDep, WebCtx, web_unit
from muster.web.form_values import FormValues
from muster.web.pages import base_of, page, safe_next, see_other
from muster.web.views_queue import (
    PAGE_SIZE,
    SEVERITY_NAMES,
    SORT_CHOICES,
    QueueRow,
    parse_params,
    queue_row,
    to_filter,
)

router = APIRouter()


def _rows(ctx: WebCtx, params: FormValues) -> tuple[list[QueueRow], str | None]:
    """One page of rows: one list query, then the SLA policy (or policies) and tenant names."""
    flt = to_filter(params, ctx.viewer.email, ctx.now)
    if ctx.tenant_id is None and flt.sla_state is not None:
        raise InvalidInput.field(
            "slaState", "choose a tenant first: SLA states follow each tenant's policy"
        )
    sort = params.get("sort") or "-createdAt"
    incidents, cursor = list_incidents(ctx.session, flt, sort, PAGE_SIZE, params.cursor)
    if ctx.tenant_id is not None:
        view = sla_view(ctx.session, ctx.now)
        return [queue_row(_item(i, view), ctx.now) for i in incidents], cursor
    tenant_ids = {i.tenant_id for i in incidents}
    policies = sla_repository.policies(ctx.session.connection(), tenant_ids)
    names: dict[uuid.UUID, str] = dict(
        ctx.session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(tenant_ids)))
        .tuples()
        .all()
    )
    rows = [
        queue_row(
            _item(i, SlaView(policies[i.tenant_id].at_risk_fraction, ctx.now)),
            ctx.now,
            names.get(i.tenant_id),
        )
        for i in incidents
    ]
    return rows, cursor


def _item(incident: Incident, view: SlaView) -> IncidentListItem:
    return IncidentListItem.of(incident, view)


def _context(request: Request, ctx: WebCtx) -> dict[str, Any]:
    params = parse_params(request.query_params.multi_items())
    rows, cursor = _rows(ctx, params)
    return {
        "params": params,
        "rows": rows,
        "next_query": params.query(cursor=cursor) if cursor else None,
        "poll_query": params.query(**({"cursor": params.cursor} if params.cursor else {})),
        "all_tenants": ctx.tenant_id is None,
    }


@router.get("/queue")
def queue(request: Request, ctx: PageCtx) -> Response:
    """The queue with its filters, rows, paging and bulk controls."""
    assignees = members(ctx.session) if ctx.tenant_id is not None else {}
    return page(
        request,
        "queue.html",
        ctx.viewer,
        **_context(request, ctx),
        statuses=list(IncidentStatus),
        severities=SEVERITY_NAMES,
        sorts=SORT_CHOICES,
        resolutions=list(Resolution),
        assignees=assignees,
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )


@router.get("/queue/rows")
def queue_rows(request: Request, ctx: PageCtx) -> Response:
    """The rows alone (htmx polls this to keep the queue live)."""
    return page(request, "queue_rows.html", ctx.viewer, **_context(request, ctx))


def _bulk_change(form: CheckedForm) -> dict[str, Any]:
    action = form.get("action")
    if action == "assign":
        assignee = form.get("assignee").strip()
        if not assignee:
            raise InvalidInput.field("assignee", "choose who to assign to")
        return {"assignee": None if assignee == "unassigned" else assignee}
    if action == "resolve":
        resolution = form.get("resolution")
        if resolution not in Resolution.__members__:
            raise InvalidInput.field("resolution", "choose a resolution to resolve with")
        return {"status": IncidentStatus.RESOLVED, "resolution": Resolution(resolution)}
    raise InvalidInput.field("action", "must be assign or resolve")


def _ids(form: CheckedForm) -> list[uuid.UUID]:
    ids = []
    for value in form.all("ids"):
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            raise InvalidInput.field("ids", f"{value!r} is not an incident id") from None
    if not ids:
        raise InvalidInput.field("ids", "select at least one incident")
    return list(dict.fromkeys(ids))


def _by_tenant(request: Request, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Group incident ids by their tenant (the all-tenants view of a global admin)."""
    with unit_of_work(services(request).db, SystemContext()) as session:
        rows = session.execute(select(Incident.id, Incident.tenant_id).where(Incident.id.in_(ids)))
        owner = dict(rows.tuples().all())
    missing = [i for i in ids if i not in owner]
    if missing:
        raise NotFound("incident", missing[0])
    grouped: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for ident in ids:
        grouped[owner[ident]].append(ident)
    return grouped


@router.post("/queue/bulk")
def bulk(request: Request, who: ViewerDep, form: CheckedForm) -> Response:
    """Assign or resolve the selected incidents, all or none (per tenant in the all-tenants
    view), then back to the queue as it was."""
    change = _bulk_change(form)
    ids = _ids(form)
    groups = {who.acting: ids} if who.acting is not None else _by_tenant(request, ids)
    for tenant_id, chosen in groups.items():
        with web_unit(request, who, tenant_id, form, write=True) as ctx:
            for incident_id in sorted(chosen):  # locked in id order: no deadlock with another
                change_incident(ctx.session, incident_id, change, who.actor, ctx.now)
    return see_other(safe_next(form.get("next"), base_of(request)))
