"""The ContraForce facade's work on one incident of the session's tenant: read it as the v2
API shows it, change its status, assignee and comments, and read its gamebooks (SOAR runs).
Services flush, never commit: the route's unit of work owns the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.compat import views
from muster.compat.contraforce import objects
from muster.compat.contraforce.decisions import status_change
from muster.compat.contraforce.gamebooks import gamebook
from muster.compat.contraforce.schemas import AssigneeUpdate, CommentCreate, StatusUpdate
from muster.errors import Conflict, NotFound
from muster.incidents import comments
from muster.incidents.lifecycle import Actor
from muster.incidents.service import change_incident, get_incident
from muster.models import Comment, Playbook, SoarProcess
from muster.soar import service as soar


def v2_incident(session: Session, incident_id: str, *, with_details: bool) -> dict[str, Any]:
    """ContraForceIncident: `{source, incident (v2 item + workspaceId), investigationDetails,
    evidence}`; the last two are null unless `with_details`."""
    view = views.incident_view(session, views.parse_incident_id(incident_id))
    entities = views.incident_entities(session, view.id)
    item = {**objects.v2_item(view, entities), "workspaceId": str(view.tenant_id)}
    out: dict[str, Any] = {
        "source": item["source"],
        "incident": item,
        "investigationDetails": None,
        "evidence": None,
    }
    if with_details:
        out["investigationDetails"] = {
            "entities": item["entities"],
            "alerts": [objects.alert_object(a) for a in views.incident_alerts(session, view.id)],
        }
        out["evidence"] = objects.evidence_object(views.incident_evidence(session, view.id))
    return out


def v2_entities(session: Session, incident_id: str) -> list[dict[str, Any]]:
    """The incident's entities in the v2 shape."""
    return [
        objects.v2_entity(e)
        for e in views.incident_entities(session, views.parse_incident_id(incident_id))
    ]


def evidence(session: Session, incident_id: str) -> dict[str, Any]:
    """The incident's evidence table `{columns, rows}`."""
    table = views.incident_evidence(session, views.parse_incident_id(incident_id))
    return objects.evidence_object(table)


def change_status(
    session: Session, incident_id: str, body: StatusUpdate, actor: Actor, now: datetime
) -> None:
    """Apply an UpdateIncidentStatusRequest; its comment is also added as a comment (marked
    closing when it closes the incident)."""
    ident = views.parse_incident_id(incident_id)
    requested = status_change(
        body.status, body.classification, body.classification_reason, body.comment
    )
    change_incident(session, ident, requested, actor, now, reason="ContraForce status update")
    if body.comment and body.comment.strip():
        extra: dict[str, Any] = {"closing": requested.get("resolution") is not None}
        if body.ticket_id:
            extra["ticketId"] = body.ticket_id
        _comment(session, ident, body.comment, actor, now, extra)


def assign(
    session: Session, incident_id: str, body: AssigneeUpdate, actor: Actor, now: datetime
) -> None:
    """Assign the incident to the member named by userId or e-mail; neither unassigns."""
    ident = views.parse_incident_id(incident_id)
    field = "userId" if body.user_id and body.user_id.strip() else "email"
    assignee = views.assignee_for(session, user_id=body.user_id, email=body.email, field=field)
    change_incident(session, ident, {"assignee": assignee}, actor, now)


def list_comments(session: Session, incident_id: str) -> list[dict[str, Any]]:
    """IncidentCommentDto[], oldest first."""
    found = comments.list_comments(session, views.parse_incident_id(incident_id))
    return [objects.comment_dto(c) for c in found]


def add_comment(
    session: Session, incident_id: str, body: CommentCreate, actor: Actor, now: datetime
) -> dict[str, Any]:
    """Add a comment; a legacy `commentId` that is a UUID becomes the comment's id, and
    repeating the same comment under it answers the stored one (a safe retry)."""
    ident = views.parse_incident_id(incident_id)
    extra: dict[str, Any] = {}
    if body.extension_id:
        extra["extensionId"] = body.extension_id
    comment_id = _uuid_or_none(body.comment_id)
    if comment_id is None and body.comment_id:
        extra["clientCommentId"] = body.comment_id
    if comment_id is not None:
        existing = session.get(Comment, comment_id)
        if existing is not None and existing.incident_id == ident:
            if existing.body != body.content:
                raise Conflict(f"comment {comment_id} exists with other content")
            return objects.comment_dto(existing)
    return objects.comment_dto(
        _comment(session, ident, body.content, actor, now, extra, comment_id)
    )


def _comment(
    session: Session,
    incident_id: uuid.UUID,
    text: str,
    actor: Actor,
    now: datetime,
    extra: dict[str, Any],
    comment_id: uuid.UUID | None = None,
) -> Comment:
    comment = comments.add_comment(session, incident_id, text, actor, now, comment_id=comment_id)
    if extra:
        comment.extra = {**(comment.extra or {}), **extra}
        session.flush()
    return comment


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip()) if value else None
    except ValueError:
        return None


def last_gamebook(session: Session, incident_id: str) -> dict[str, Any]:
    """The incident's last SOAR run as a Gamebook; NotFound when none ran."""
    view = views.incident_view(session, views.parse_incident_id(incident_id))
    incident = get_incident(session, view.id)
    process = soar.current_process(session, incident)
    if process is None:
        raise NotFound("gamebook", f"for incident {view.id}")
    return _gamebook(session, process, view)


def gamebooks(session: Session, incident_id: str) -> list[dict[str, Any]]:
    """Every SOAR run on the incident as Gamebooks, newest first."""
    view = views.incident_view(session, views.parse_incident_id(incident_id))
    processes = soar.list_processes(session, incident_id=view.id, limit=500)
    return [_gamebook(session, p, view) for p in processes]


def _gamebook(session: Session, process: SoarProcess, view: views.IncidentView) -> dict[str, Any]:
    name = session.scalar(select(Playbook.name).where(Playbook.id == process.playbook_id))
    steps = soar.step_log(session, process.id)
    return gamebook(
        process, steps, view, name or str(process.playbook_id), objects.source_name(view)
    )
