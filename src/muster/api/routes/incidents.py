"""`/api/v1/incidents`: the incident queue, one incident, its changes, comments and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from muster.alerts.schemas import AlertRead
from muster.api.deps import ReadCtx, WriteCtx, if_match_version
from muster.incidents import comments as notes
from muster.incidents import service
from muster.incidents.listing import IncidentFilter, list_incidents
from muster.incidents.schemas import (
    CommentCreate,
    CommentRead,
    IncidentCreate,
    IncidentListItem,
    IncidentPage,
    IncidentRead,
    IncidentUpdate,
    MergeRequest,
    TenantRef,
    TimelineEntry,
)
from muster.incidents.timeline import timeline
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus
from muster.query import MAX_LENGTH
from muster.sla.clock import SlaState
from muster.sla.service import view as sla_view
from muster.soar import service as soar

router = APIRouter(prefix="/incidents", tags=["incidents"])


def _detail(ctx: ReadCtx | WriteCtx, incident: Incident, response: Response) -> IncidentRead:
    tenant = ctx.session.get(Tenant, incident.tenant_id)
    assert tenant is not None
    alerts = [AlertRead.model_validate(a) for a in service.alerts_of(ctx.session, incident.id)]
    read = IncidentRead.model_validate(
        {
            **IncidentListItem.of(incident, sla_view(ctx.session, ctx.now)).model_dump(),
            "alerts": alerts,
            "tenant": TenantRef(id=tenant.id, name=tenant.name),
            "version": incident.version,
            "soar_process": _soar_process(ctx, incident),
        }
    )
    response.headers["ETag"] = f'"{incident.version}"'
    return read


def _soar_process(ctx: ReadCtx | WriteCtx, incident: Incident) -> dict[str, object] | None:
    process = soar.current_process(ctx.session, incident)
    return dict(soar.summary(process)) if process is not None else None


@router.post("", response_model=IncidentRead, status_code=201, summary="Open an incident by hand")
def create(ctx: WriteCtx, body: IncidentCreate, response: Response) -> IncidentRead:
    incident = service.create_incident(ctx.session, body, ctx.principal.actor, ctx.now)
    return _detail(ctx, incident, response)


@router.get("", response_model=IncidentPage, summary="The incident queue (keyset paging)")
def list_(
    ctx: ReadCtx,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    severity: Annotated[list[Annotated[int, Query(ge=1, le=4)]] | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="e-mail, SOAR or unassigned")] = None,
    tag: str | None = None,
    source: str | None = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text, #number or hash")] = None,
    sort: Annotated[
        str,
        Query(
            description="createdAt, updatedAt, severity, number; descending unless prefixed with +"
        ),
    ] = "-createdAt",
    filter_: Annotated[
        str | None,
        Query(
            alias="filter",
            description=f"filter expression (docs/query-language.md), at most {MAX_LENGTH} chars",
        ),
    ] = None,
    sla_state: Annotated[SlaState | None, Query(alias="slaState")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> IncidentPage:
    flt = IncidentFilter(
        tuple(status or ()),
        tuple(severity or ()),
        assignee,
        tag,
        source,
        created_after,
        created_before,
        q,
        filter_,
        sla_state,
        ctx.now,
    )
    items, next_cursor = list_incidents(ctx.session, flt, sort, limit, cursor)
    sla = sla_view(ctx.session, ctx.now)
    return IncidentPage(items=[IncidentListItem.of(i, sla) for i in items], next_cursor=next_cursor)


@router.get("/by-hash/{incident_hash}", response_model=IncidentRead, summary="Find by hash")
def by_hash(ctx: ReadCtx, incident_hash: str, response: Response) -> IncidentRead:
    return _detail(ctx, service.get_by_hash(ctx.session, incident_hash), response)


@router.get("/{incident_id}", response_model=IncidentRead, summary="One incident with its alerts")
def get(ctx: ReadCtx, incident_id: uuid.UUID, response: Response) -> IncidentRead:
    return _detail(ctx, service.get_incident(ctx.session, incident_id), response)


@router.patch(
    "/{incident_id}",
    response_model=IncidentRead,
    summary="Change an incident (lifecycle rules apply; If-Match guards the version)",
    responses={412: {"description": "If-Match names an older version"}},
)
def patch(
    ctx: WriteCtx,
    incident_id: uuid.UUID,
    body: IncidentUpdate,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> IncidentRead:
    incident = service.update_incident(
        ctx.session,
        incident_id,
        body,
        ctx.principal.actor,
        ctx.now,
        if_match=if_match_version(if_match),
    )
    return _detail(ctx, incident, response)


@router.post(
    "/{incident_id}/merge",
    response_model=IncidentRead,
    summary="Merge other incidents into this one (they become RESOLVED as DUPLICATE)",
)
def merge(
    ctx: WriteCtx, incident_id: uuid.UUID, body: MergeRequest, response: Response
) -> IncidentRead:
    incident = service.merge_incidents(
        ctx.session, incident_id, body.incident_ids, ctx.principal.actor, ctx.now
    )
    return _detail(ctx, incident, response)


@router.get("/{incident_id}/comments", response_model=list[CommentRead])
def comments(ctx: ReadCtx, incident_id: uuid.UUID) -> list[CommentRead]:
    return [CommentRead.model_validate(c) for c in notes.list_comments(ctx.session, incident_id)]


@router.post("/{incident_id}/comments", response_model=CommentRead, status_code=201)
def comment(ctx: WriteCtx, incident_id: uuid.UUID, body: CommentCreate) -> CommentRead:
    return CommentRead.model_validate(
        notes.add_comment(ctx.session, incident_id, body.body, ctx.principal.actor, ctx.now)
    )


@router.get(
    "/{incident_id}/timeline",
    response_model=list[TimelineEntry],
    summary="Every change and automated decision, oldest first",
)
def get_timeline(ctx: ReadCtx, incident_id: uuid.UUID) -> list[TimelineEntry]:
    service.get_incident(ctx.session, incident_id)
    return [TimelineEntry.model_validate(e) for e in timeline(ctx.session, incident_id)]
