"""Routes of the ContraForce v2 API under `/workspaces/{workspaceId}`, current shape
(`/incidents/{source}/{incidentId}/...`) and gamebooks. Thin: admit, open the workspace's
unit of work, call the facade's service, wrap in the v2 envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from muster.api.deps import authenticates
from muster.auth.principal import Principal
from muster.compat import mapping
from muster.compat.contraforce import service
from muster.compat.contraforce.auth import v2_principal, workspace_unit
from muster.compat.contraforce.decisions import evidence_segments
from muster.compat.contraforce.envelopes import v2_data
from muster.compat.contraforce.schemas import AssigneeUpdate, CommentCreate, StatusUpdate


@authenticates
async def workspace_caller(request: Request, workspace_id: str) -> Principal:
    """The caller of every workspace route (HTTP Basic), admitted to `{workspaceId}`."""
    return await v2_principal(request, workspace_id)


Caller = Annotated[Principal, Depends(workspace_caller)]

router = APIRouter(prefix="/workspaces/{workspace_id}")
PREFIX = "/incidents/{source}/{incident_id}"


def _source(source: str) -> str:
    return mapping.source_from_name(source)


@router.get(
    "/incidents/{first}/{second}/evidence",
    summary="Evidence ({source}/{incidentId}, or the legacy {incidentId}/{source})",
)
def evidence(
    request: Request, who: Caller, workspace_id: str, first: str, second: str
) -> dict[str, Any]:
    _, incident_id = evidence_segments(first, second)
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.evidence(ctx.session, incident_id), ctx.now)


@router.get(PREFIX, summary="One incident (withDetails adds investigation and evidence)")
def get_incident(
    request: Request,
    who: Caller,
    workspace_id: str,
    source: str,
    incident_id: str,
    with_details: Annotated[bool, Query(alias="withDetails")] = False,
) -> dict[str, Any]:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        data = service.v2_incident(ctx.session, incident_id, with_details=with_details)
        return v2_data(data, ctx.now)


@router.get(PREFIX + "/last-gamebook", summary="The last gamebook (SOAR run); 404 if none ran")
def last_gamebook(
    request: Request, who: Caller, workspace_id: str, source: str, incident_id: str
) -> dict[str, Any]:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.last_gamebook(ctx.session, incident_id), ctx.now)


@router.get(PREFIX + "/comments", summary="The incident's comments, oldest first")
def list_comments(
    request: Request, who: Caller, workspace_id: str, source: str, incident_id: str
) -> dict[str, Any]:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.list_comments(ctx.session, incident_id), ctx.now)


@router.post(PREFIX + "/comments", status_code=201, summary="Add a comment")
def add_comment(
    request: Request,
    who: Caller,
    workspace_id: str,
    source: str,
    incident_id: str,
    body: CommentCreate,
) -> dict[str, Any]:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        dto = service.add_comment(ctx.session, incident_id, body, who.actor, ctx.now)
        return v2_data(dto, ctx.now)


@router.put(PREFIX + "/status", status_code=204, summary="Change status and classification")
def put_status(
    request: Request,
    who: Caller,
    workspace_id: str,
    source: str,
    incident_id: str,
    body: StatusUpdate,
) -> Response:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        service.change_status(ctx.session, incident_id, body, who.actor, ctx.now)
    return Response(status_code=204)


@router.put(PREFIX + "/assignee", status_code=204, summary="Assign by userId or e-mail")
def put_assignee(
    request: Request,
    who: Caller,
    workspace_id: str,
    source: str,
    incident_id: str,
    body: AssigneeUpdate,
) -> Response:
    _source(source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        service.assign(ctx.session, incident_id, body, who.actor, ctx.now)
    return Response(status_code=204)


@router.get("/gamebooks/by-incident/{incident_id}", summary="Every gamebook run on an incident")
def gamebooks(request: Request, who: Caller, workspace_id: str, incident_id: str) -> dict[str, Any]:
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.gamebooks(ctx.session, incident_id), ctx.now)
