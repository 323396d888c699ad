"""The earlier v2 route shape still used by clients in the field: no `{source}` segment
(`/workspaces/{workspaceId}/incidents/{incidentId}/status` …), `incidentId` and `source` in
the JSON body. Declared before the current shape so `{incidentId}/comments` is not read as
`{source}/{incidentId}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from muster.compat.contraforce import service
from muster.compat.contraforce.auth import workspace_unit
from muster.compat.contraforce.decisions import check_body_incident, check_source
from muster.compat.contraforce.envelopes import v2_data
from muster.compat.contraforce.routes_v2 import Caller
from muster.compat.contraforce.schemas import AssigneeUpdate, CommentCreate, StatusUpdate

router = APIRouter(prefix="/workspaces/{workspace_id}/incidents/{incident_id}")


@router.put("/status", status_code=204, summary="(legacy) Change status and classification")
def put_status(
    request: Request, who: Caller, workspace_id: str, incident_id: str, body: StatusUpdate
) -> Response:
    check_body_incident(incident_id, body.incident_id)
    check_source(body.source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        service.change_status(ctx.session, incident_id, body, who.actor, ctx.now)
    return Response(status_code=204)


@router.get("/comments", summary="(legacy) The incident's comments")
def list_comments(
    request: Request, who: Caller, workspace_id: str, incident_id: str
) -> dict[str, Any]:
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.list_comments(ctx.session, incident_id), ctx.now)


@router.post("/comments", status_code=201, summary="(legacy) Add a comment")
def add_comment(
    request: Request, who: Caller, workspace_id: str, incident_id: str, body: CommentCreate
) -> dict[str, Any]:
    check_body_incident(incident_id, body.incident_id)
    check_source(body.source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        dto = service.add_comment(ctx.session, incident_id, body, who.actor, ctx.now)
        return v2_data(dto, ctx.now)


def _assign(
    request: Request, who: Caller, workspace_id: str, incident_id: str, body: AssigneeUpdate
) -> Response:
    check_body_incident(incident_id, body.incident_id)
    check_source(body.source)
    with workspace_unit(request, who, workspace_id, write=True) as ctx:
        service.assign(ctx.session, incident_id, body, who.actor, ctx.now)
    return Response(status_code=204)


router.put("/assignee", status_code=204, summary="(legacy) Assign by userId or e-mail")(_assign)
router.put("/assign", status_code=204, summary="(legacy) Assign by userId or e-mail")(_assign)


@router.get("/entities", summary="(legacy) The incident's entities")
def entities(request: Request, who: Caller, workspace_id: str, incident_id: str) -> dict[str, Any]:
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        return v2_data(service.v2_entities(ctx.session, incident_id), ctx.now)


@router.get("/summary", summary="(legacy) The incident as a v2 item")
def summary(request: Request, who: Caller, workspace_id: str, incident_id: str) -> dict[str, Any]:
    with workspace_unit(request, who, workspace_id, write=False) as ctx:
        data = service.v2_incident(ctx.session, incident_id, with_details=False)
        return v2_data(data["incident"], ctx.now)
