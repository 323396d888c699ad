"""Comments on incidents: add (under a caller's id if it names one), list, edit, delete.

A person's first comment counts as the response (`lifecycle.respond_by_comment`). Every change
is on the incident's timeline. Services flush, never commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.db.tenancy import id_taken
from muster.errors import Conflict, Forbidden, NotFound
from muster.incidents import lifecycle
from muster.incidents.lifecycle import STATE_FIELDS, Actor
from muster.incidents.service import apply_outcome, get_incident
from muster.incidents.timeline import record
from muster.models import Comment


def add_comment(
    session: Session,
    incident_id: uuid.UUID,
    body: str,
    actor: Actor,
    now: datetime,
    *,
    comment_id: uuid.UUID | None = None,
    lock: bool = True,
) -> Comment:
    """Add a comment; a person's first comment counts as the response. A `comment_id` another
    tenant's comment holds is NotFound, as any other tenant's id. The incident is read locked
    (`service.ROW_LOCK`: a first comment may change it) unless `lock=False`: the caller holds
    its lock already (the SOAR runner)."""
    incident = get_incident(session, incident_id, lock=lock)
    if comment_id is not None and session.get(Comment, comment_id) is not None:
        raise Conflict(f"comment {comment_id} exists", code="comment.exists")
    if comment_id is not None and id_taken(session, Comment.id, comment_id):
        raise NotFound("comment", comment_id)
    comment = Comment(
        id=comment_id or uuid.uuid4(),
        tenant_id=incident.tenant_id,
        incident_id=incident.id,
        author=actor.id,
        author_name=actor.name,
        author_type=actor.kind,
        body=body,
        created_at=now,
    )
    session.add(comment)
    session.flush()
    record(
        session, incident.id, "comment.added", actor, now, changes={"commentId": str(comment.id)}
    )
    state = {name: getattr(incident, name) for name in STATE_FIELDS}
    apply_outcome(
        session,
        incident,
        lifecycle.respond_by_comment(state, actor, now),
        actor,
        now,
        "first comment by a person",
    )
    return comment


def list_comments(session: Session, incident_id: uuid.UUID) -> list[Comment]:
    """The incident's comments, oldest first."""
    get_incident(session, incident_id)
    return list(
        session.scalars(
            select(Comment)
            .where(Comment.incident_id == incident_id)
            .order_by(Comment.created_at, Comment.id)
        )
    )


def get_comment(session: Session, incident_id: uuid.UUID, comment_id: uuid.UUID) -> Comment:
    """One comment of the incident, or NotFound (also for another incident's comment)."""
    get_incident(session, incident_id)
    comment = session.get(Comment, comment_id)
    if comment is None or comment.incident_id != incident_id:
        raise NotFound("comment", comment_id)
    return comment


def edit_comment(
    session: Session,
    incident_id: uuid.UUID,
    comment_id: uuid.UUID,
    body: str,
    actor: Actor,
    now: datetime,
) -> Comment:
    """Replace a comment's text; only its author may, and the timeline keeps the old text."""
    comment = get_comment(session, incident_id, comment_id)
    if comment.author != actor.id:
        raise Forbidden("only a comment's author can edit it", code="comment.not_author")
    if comment.body == body:
        return comment
    before = comment.body
    comment.body = body
    comment.updated_at = now
    session.flush()
    record(
        session,
        incident_id,
        "comment.edited",
        actor,
        now,
        changes={"commentId": str(comment.id), "body": [before, body]},
    )
    return comment


def delete_comment(
    session: Session,
    incident_id: uuid.UUID,
    comment_id: uuid.UUID,
    actor: Actor,
    now: datetime,
) -> None:
    """Delete a comment; the timeline keeps what it said and who deleted it."""
    comment = get_comment(session, incident_id, comment_id)
    record(
        session,
        incident_id,
        "comment.deleted",
        actor,
        now,
        changes={"commentId": str(comment.id), "body": [comment.body, None]},
    )
    session.delete(comment)
    session.flush()
