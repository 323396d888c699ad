"""The incident page and its forms: assign, status, resolve, comment, tags, excludeFromSLA,
merge, move an alert; the raw payload of an alert on demand. Each form calls the same service
as the API and answers with a 303 back to the page."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from muster.alerts.service import get_alert
from muster.errors import InvalidInput, NotFound
from muster.ids import incident_number
from muster.incidents import comments as notes
from muster.incidents import service
from muster.incidents.schemas import IncidentUpdate
from muster.models import Incident
from muster.web.deps import IncidentActionCtx, IncidentPageCtx, WebCtx
from muster.web.incident_page import incident_context
from muster.web.pages import base_of, page, see_other
from muster.web.views_incident import pretty_raw, split_list, split_tags

router = APIRouter(prefix="/incidents/{incident_id}")


def _back(request: Request, incident_id: uuid.UUID) -> Response:
    return see_other(f"{base_of(request)}/incidents/{incident_id}")


def _update(ctx: WebCtx, incident_id: uuid.UUID, fields: dict[str, Any]) -> None:
    """Validate like the API's PATCH body (names, lengths, ATT&CK) and apply it."""
    data = IncidentUpdate.model_validate(fields)
    service.update_incident(ctx.session, incident_id, data, ctx.viewer.actor, ctx.now)


def _find(ctx: WebCtx, ref: str, field: str) -> uuid.UUID:
    """An incident of the tenant named by id, `#number` or incidentHash."""
    text = ref.strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        pass
    if text.lstrip("#").isdigit():  # a number no incident can have names none
        number = incident_number(text)
        found = (
            None
            if number is None
            else ctx.session.scalar(select(Incident.id).where(Incident.number == number))
        )
        if found is None:
            raise NotFound("incident", text)
        return found
    if not text:
        raise InvalidInput.field(field, "name an incident (id, #number or hash)")
    return service.get_by_hash(ctx.session, text).id


@router.get("")
def incident(request: Request, ctx: IncidentPageCtx, incident_id: uuid.UUID) -> Response:
    """Everything about one incident."""
    return page(request, "incident.html", ctx.viewer, **incident_context(ctx, incident_id))


@router.get("/alerts/{alert_id}/raw")
def raw(
    request: Request, ctx: IncidentPageCtx, incident_id: uuid.UUID, alert_id: uuid.UUID
) -> Response:
    """The alert's raw payload as a `pre.raw` fragment (only an alert of this incident)."""
    service.get_incident(ctx.session, incident_id)
    alert = get_alert(ctx.session, alert_id)
    if alert.incident_id != incident_id:
        raise NotFound("alert", alert_id)
    return page(request, "raw.html", ctx.viewer, alert_id=alert.id, raw=pretty_raw(alert.raw))


@router.post("/assign")
def assign(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Assign to a member ('' unassigns)."""
    assignee = ctx.form.get("assignee").strip()
    _update(ctx, incident_id, {"assignee": assignee or None})
    return _back(request, incident_id)


@router.post("/status")
def status(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Move to OPEN or UNDER_INVESTIGATION (resolving has its own form)."""
    wanted = ctx.form.get("status")
    if wanted not in ("OPEN", "UNDER_INVESTIGATION"):
        raise InvalidInput.field("status", "must be OPEN or UNDER_INVESTIGATION")
    _update(ctx, incident_id, {"status": wanted})
    return _back(request, incident_id)


@router.post("/resolve")
def resolve(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Resolve with a resolution (required), an optional reason and comment."""
    resolution = ctx.form.get("resolution").strip()
    if not resolution:
        raise InvalidInput.field("resolution", "is required to resolve an incident")
    fields: dict[str, Any] = {"status": "RESOLVED", "resolution": resolution}
    if ctx.form.get("resolutionReason").strip():
        fields["resolutionReason"] = ctx.form.get("resolutionReason").strip()
    if ctx.form.get("comment").strip():
        fields["resolutionComment"] = ctx.form.get("comment").strip()
    _update(ctx, incident_id, fields)
    return _back(request, incident_id)


@router.post("/comment")
def comment(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Add a comment."""
    body = ctx.form.get("body").strip()
    if not body:
        raise InvalidInput.field("body", "write a comment first")
    notes.add_comment(ctx.session, incident_id, body, ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)


@router.post("/tags")
def tags(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Replace the tags (comma separated)."""
    _update(ctx, incident_id, {"tags": split_tags(ctx.form.get("tags"))})
    return _back(request, incident_id)


@router.post("/exclude")
def exclude(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Set excludeFromSLA from the checkbox."""
    _update(ctx, incident_id, {"excludeFromSLA": ctx.form.has("excludeFromSLA")})
    return _back(request, incident_id)


@router.post("/merge")
def merge(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Merge the named incidents (ids, #numbers or hashes) into this one."""
    refs = split_list(ctx.form.get("incidentIds"))
    if not refs:
        raise InvalidInput.field("incidentIds", "name the incidents to merge into this one")
    others = [_find(ctx, ref, "incidentIds") for ref in refs]
    service.merge_incidents(ctx.session, incident_id, others, ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)


@router.post("/alerts/{alert_id}/move")
def move(
    request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID, alert_id: uuid.UUID
) -> Response:
    """Move one of this incident's alerts to another incident (id, #number or hash)."""
    service.get_incident(ctx.session, incident_id)
    target = _find(ctx, ctx.form.get("incidentId"), "incidentId")
    alert = get_alert(ctx.session, alert_id)
    if alert.incident_id != incident_id:
        raise NotFound("alert", alert_id)
    service.move_alert(ctx.session, alert_id, target, ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)
