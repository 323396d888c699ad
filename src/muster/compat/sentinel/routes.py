"""The Sentinel incidents routes under the ARM workspace prefix (thin: parse → service → render).

Mounted at `/subscriptions`; the workspace name is the tenant id. Every route needs
`Authorization: Bearer <muster API key>` and `api-version`; lists read repeated query
parameters by their first value (the official client re-appends its own to `nextLink`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from muster.api.deps import authenticates, json_body, principal_for, tenant_unit
from muster.auth.principal import Principal
from muster.compat.sentinel import entities as entity_render
from muster.compat.sentinel import resources as render
from muster.compat.sentinel import service
from muster.compat.sentinel.arm import Workspace, parse_resource_id
from muster.compat.sentinel.odata import filter_expression, native_sort
from muster.compat.sentinel.schemas import CommentIn, IncidentIn, RelationIn, parse_body
from muster.compat.views import (
    incident_alerts,
    incident_entities,
    incident_view,
    list_views,
    parse_incident_id,
    user_ids,
)
from muster.errors import InvalidInput, NotFound, Unauthenticated
from muster.incidents import comments, relations
from muster.incidents.listing import IncidentFilter
from muster.models import Comment
from muster.models.enums import Role

PREFIX = (
    "/{subscription_id}/resourceGroups/{resource_group}/providers/"
    "Microsoft.OperationalInsights/workspaces/{workspace}/providers/Microsoft.SecurityInsights"
)
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
DEFAULT_TOP, MAX_TOP = 50, 1000
# a delete answers without a body: 200 when it deleted, 204 when there was nothing to delete
DELETED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Deleted"},
    204: {"description": "There was nothing to delete"},
}

router = APIRouter(prefix=PREFIX)


def first_param(request: Request, name: str) -> str | None:
    """The first value of a query parameter (the client may repeat it)."""
    values = request.query_params.getlist(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Call:
    """An authenticated call into one workspace."""

    who: Principal
    ws: Workspace


@authenticates
async def caller(
    request: Request, subscription_id: str, resource_group: str, workspace: str
) -> Call:
    """Authenticate the bearer key for the workspace's tenant and check `api-version`."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send a muster API key: Authorization: Bearer <key>")
    who = await principal_for(request, token.strip(), workspace)
    version = first_param(request, "api-version")
    if version is None:
        raise InvalidInput.field(
            "api-version",
            "the api-version query parameter (?api-version=) is required for all requests",
            code="MissingApiVersionParameter",
        )
    if not API_VERSION.match(version):
        raise InvalidInput.field(
            "api-version",
            f"{version!r} is not an api-version; use YYYY-MM-DD or YYYY-MM-DD-preview",
            code="InvalidApiVersionParameter",
        )
    return Call(who, Workspace(subscription_id, resource_group, workspace))


CallDep = Annotated[Call, Depends(caller)]
Body = Annotated[Any, Depends(json_body)]


def json_answer(body: Any, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def top_of(request: Request) -> int:
    """`$top`: 1..1000, 50 when absent."""
    text = first_param(request, "$top")
    if text is None:
        return DEFAULT_TOP
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_TOP:
        raise InvalidInput.field("$top", f"must be a whole number from 1 to {MAX_TOP}")
    return int(digits)


def next_link(request: Request, token: str | None) -> str | None:
    """This request's URL with `$skipToken` set to the next page's cursor (None: last page)."""
    if token is None:
        return None
    pairs: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        pairs.setdefault(name, value)
    pairs["$skipToken"] = token
    return str(request.url.replace(query=urlencode(pairs, quote_via=quote, safe="$")))


@router.get("/incidents")
def list_incidents(request: Request, call: CallDep) -> Response:
    """Incidents_List: OData $filter/$orderby/$top/$skipToken, nextLink to the next page."""
    text = first_param(request, "$filter")
    flt = IncidentFilter(filter=filter_expression(text) if text is not None else None)
    sort, top = native_sort(first_param(request, "$orderby")), top_of(request)
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        views, cursor = list_views(ctx.session, flt, sort, top, first_param(request, "$skipToken"))
        url = ctx.settings.public_url
        items = [render.incident_resource(call.ws, view, url) for view in views]
    return json_answer(render.page_of(items, next_link(request, cursor)))


@router.get("/incidents/{incident_id}")
def get_incident(request: Request, call: CallDep, incident_id: str) -> Response:
    """Incidents_Get."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        view = incident_view(ctx.session, parse_incident_id(incident_id))
        return json_answer(render.incident_resource(call.ws, view, ctx.settings.public_url))


@router.put("/incidents/{incident_id}")
def put_incident(
    request: Request,
    call: CallDep,
    incident_id: str,
    data: Body,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Incidents_CreateOrUpdate: 201 when created, 200 when updated; 409 on a stale etag."""
    body = parse_body(IncidentIn, data)
    wanted = service.incident_id_for_write(incident_id)
    with tenant_unit(request, call.who, call.ws.name, Role.ANALYST, write=True) as ctx:
        actor = ctx.principal.actor
        view, created = service.put_incident(ctx.session, wanted, body, if_match, actor, ctx.now)
        answer = render.incident_resource(call.ws, view, ctx.settings.public_url)
    return json_answer(answer, 201 if created else 200)


@router.delete("/incidents/{incident_id}", response_class=Response, responses=DELETED)
def delete_incident(request: Request, call: CallDep, incident_id: str) -> Response:
    """Incidents_Delete (tenant_admin): 200, or 204 when there was nothing to delete."""
    with tenant_unit(request, call.who, call.ws.name, Role.TENANT_ADMIN, write=True) as ctx:
        actor = ctx.principal.actor
        deleted = service.delete_incident_if_present(ctx.session, incident_id, actor, ctx.now)
    return Response(status_code=200 if deleted else 204)


@router.post("/incidents/{incident_id}/alerts")
def list_alerts(request: Request, call: CallDep, incident_id: str) -> Response:
    """Incidents_ListAlerts: the incident's alerts as SecurityAlert entities, oldest first."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        alerts = incident_alerts(ctx.session, parse_incident_id(incident_id))
        url = ctx.settings.public_url
        found = [entity_render.security_alert(call.ws, a, url) for a in alerts]
    return json_answer({"value": found})


@router.post("/incidents/{incident_id}/entities")
def list_entities(request: Request, call: CallDep, incident_id: str) -> Response:
    """Incidents_ListEntities: the entities the alerts name, by kind, with counts per kind."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        records = incident_entities(ctx.session, parse_incident_id(incident_id))
    return json_answer(entity_render.entities_response(call.ws, records))


@router.post("/incidents/{incident_id}/bookmarks")
def list_bookmarks(request: Request, call: CallDep, incident_id: str) -> Response:
    """Incidents_ListBookmarks: muster has no hunting bookmarks, so always empty."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        incident_view(ctx.session, parse_incident_id(incident_id))
    return json_answer({"value": []})


@router.get("/incidents/{incident_id}/comments")
def list_comments(request: Request, call: CallDep, incident_id: str) -> Response:
    """IncidentComments_List: every comment, oldest first (one page)."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        found = comments.list_comments(ctx.session, parse_incident_id(incident_id))
        authors = user_ids(ctx.session, [c.author for c in found])
        items = [render.comment_resource(call.ws, c, authors.get(c.author)) for c in found]
    return json_answer(render.page_of(items, None))


@router.get("/incidents/{incident_id}/comments/{comment_id}")
def get_comment(request: Request, call: CallDep, incident_id: str, comment_id: str) -> Response:
    """IncidentComments_Get."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        comment = comments.get_comment(
            ctx.session, parse_incident_id(incident_id), _comment_id(comment_id)
        )
        return json_answer(_comment(ctx.session, call.ws, comment))


@router.put("/incidents/{incident_id}/comments/{comment_id}")
def put_comment(
    request: Request, call: CallDep, incident_id: str, comment_id: str, data: Body
) -> Response:
    """IncidentComments_CreateOrUpdate: 201 when created, 200 when its author edited it."""
    message = parse_body(CommentIn, data).properties.message
    with tenant_unit(request, call.who, call.ws.name, Role.ANALYST, write=True) as ctx:
        comment, created = service.put_comment(
            ctx.session,
            parse_incident_id(incident_id),
            comment_id,
            message,
            ctx.principal.actor,
            ctx.now,
        )
        answer = _comment(ctx.session, call.ws, comment)
    return json_answer(answer, 201 if created else 200)


@router.delete(
    "/incidents/{incident_id}/comments/{comment_id}", response_class=Response, responses=DELETED
)
def delete_comment(request: Request, call: CallDep, incident_id: str, comment_id: str) -> Response:
    """IncidentComments_Delete: 200, or 204 when there was nothing to delete."""
    with tenant_unit(request, call.who, call.ws.name, Role.ANALYST, write=True) as ctx:
        deleted = service.delete_comment_if_present(
            ctx.session, parse_incident_id(incident_id), comment_id, ctx.principal.actor, ctx.now
        )
    return Response(status_code=200 if deleted else 204)


@router.get("/incidents/{incident_id}/relations")
def list_relations(request: Request, call: CallDep, incident_id: str) -> Response:
    """IncidentRelations_List: every relation, oldest first (one page)."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        found = relations.list_relations(ctx.session, parse_incident_id(incident_id))
        items = [render.relation_resource(call.ws, r) for r in found]
    return json_answer(render.page_of(items, None))


@router.get("/incidents/{incident_id}/relations/{name}")
def get_relation(request: Request, call: CallDep, incident_id: str, name: str) -> Response:
    """IncidentRelations_Get."""
    with tenant_unit(request, call.who, call.ws.name, Role.VIEWER, write=False) as ctx:
        relation = relations.get_relation(ctx.session, parse_incident_id(incident_id), name)
        return json_answer(render.relation_resource(call.ws, relation))


@router.put("/incidents/{incident_id}/relations/{name}")
def put_relation(
    request: Request, call: CallDep, incident_id: str, name: str, data: Body
) -> Response:
    """IncidentRelations_CreateOrUpdate: 201 when created, 200 when repointed or unchanged."""
    target = parse_body(RelationIn, data).properties.related_resource_id
    parse_resource_id(target, "properties.relatedResourceId")
    if len(name) > 256:
        raise InvalidInput.field("relationName", "is longer than 256 characters")
    with tenant_unit(request, call.who, call.ws.name, Role.ANALYST, write=True) as ctx:
        relation, created = relations.put_relation(
            ctx.session,
            parse_incident_id(incident_id),
            name,
            target,
            ctx.principal.actor,
            ctx.now,
        )
        answer = render.relation_resource(call.ws, relation)
    return json_answer(answer, 201 if created else 200)


@router.delete(
    "/incidents/{incident_id}/relations/{name}", response_class=Response, responses=DELETED
)
def delete_relation(request: Request, call: CallDep, incident_id: str, name: str) -> Response:
    """IncidentRelations_Delete: 200, or 204 when there was nothing to delete."""
    with tenant_unit(request, call.who, call.ws.name, Role.ANALYST, write=True) as ctx:
        deleted = service.delete_relation_if_present(
            ctx.session, parse_incident_id(incident_id), name, ctx.principal.actor, ctx.now
        )
    return Response(status_code=200 if deleted else 204)


def _comment_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise NotFound("comment", value) from None


def _comment(session: Session, ws: Workspace, comment: Comment) -> dict[str, Any]:
    return render.comment_resource(
        ws, comment, user_ids(session, [comment.author]).get(comment.author)
    )
