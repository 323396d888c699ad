"""`across-workspaces/bulk-update`: validate every item first (nothing is written when any
value is wrong), then apply each workspace's items in that workspace's own unit of work.
Items whose workspace the caller cannot act in, or whose incident that workspace does not
hold, are answered `forbidden` with one reason, so the answer never tells them apart."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from muster.compat import mapping, views
from muster.compat.contraforce.decisions import check_source, status_change
from muster.compat.contraforce.schemas import BulkItem
from muster.errors import InvalidInput, NotFound
from muster.incidents import comments
from muster.incidents.lifecycle import Actor
from muster.incidents.service import change_incident
from muster.models import Incident

FORBIDDEN_REASON = "the incident is not in a workspace this credential may act in"


@dataclass(slots=True)
class Planned:
    """One validated item: what it asks of muster, before the workspace is consulted."""

    index: int
    incident_id: str
    workspace_id: str
    requested: dict[str, Any]
    comment: str | None
    user: dict[str, str | None] | None = None  # resolved to `requested["assignee"]` later
    closing: bool = False
    errors: list[Mapping[str, Any]] = field(default_factory=list)


def forbidden(item: Planned) -> dict[str, str]:
    """The `forbidden` entry of an item."""
    return {
        "incidentId": item.incident_id,
        "workspaceId": item.workspace_id,
        "reason": FORBIDDEN_REASON,
    }


def plan(items: Sequence[BulkItem]) -> list[Planned]:
    """Check every item's values (pure); one VALIDATION_ERROR names every bad field."""
    planned: list[Planned] = []
    errors: list[Mapping[str, Any]] = []
    for index, item in enumerate(items):
        prefix = f"items[{index}]."
        try:
            planned.append(_plan_one(index, item, prefix))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(
            f"{len(errors)} invalid value(s) in items; nothing was changed", errors=errors
        )
    return planned


def _plan_one(index: int, item: BulkItem, prefix: str) -> Planned:
    check_source(item.incident_source, f"{prefix}incidentSource")
    requested: dict[str, Any] = {}
    if item.status is not None:
        requested = status_change(
            item.status,
            item.classification,
            item.classification_reason,
            item.comment,
            prefix=prefix,
        )
    else:
        mapping.verdict_from(
            item.classification,
            item.classification_reason,
            classification_field=f"{prefix}classification",
            reason_field=f"{prefix}classificationReason",
        )
    user = None
    if item.user is not None and any((item.user.id, item.user.email, item.user.display_name)):
        if item.remove_assignee:
            raise InvalidInput.field(f"{prefix}user", "give a user or removeAssignee, not both")
        user = {"id": item.user.id, "email": item.user.email, "name": item.user.display_name}
    elif item.remove_assignee:
        requested["assignee"] = None
    return Planned(
        index,
        item.id.strip(),
        item.workspace_id.strip(),
        requested,
        item.comment if item.comment and item.comment.strip() else None,
        user,
        closing="resolution" in requested,
    )


def resolve(session: Session, items: Sequence[Planned]) -> tuple[list[Planned], list[Planned]]:
    """In the workspace's session: (items whose incident it holds, with assignees resolved;
    items it does not hold). Assignees that are not members are collected as `errors`."""
    held, missing = [], []
    for item in items:
        try:
            ident = views.parse_incident_id(item.incident_id)
        except NotFound:  # an id that is not a UUID names nothing here
            missing.append(item)
            continue
        if session.get(Incident, ident) is None:
            missing.append(item)
            continue
        if item.user is not None:
            try:
                item.requested["assignee"] = views.assignee_for(
                    session,
                    user_id=item.user["id"],
                    email=item.user["email"],
                    name=item.user["name"],
                    field=f"items[{item.index}].user",
                )
            except InvalidInput as exc:
                item.errors.extend(exc.errors)
        held.append(item)
    return held, missing


def apply(session: Session, items: Sequence[Planned], actor: Actor, now: datetime) -> list[str]:
    """Write the items' changes and comments; the ids of the incidents changed."""
    done = []
    for item in items:
        ident = uuid.UUID(item.incident_id)
        if item.requested:
            change_incident(
                session, ident, item.requested, actor, now, reason="ContraForce bulk update"
            )
        if item.comment:
            comment = comments.add_comment(session, ident, item.comment, actor, now)
            comment.extra = {**(comment.extra or {}), "closing": item.closing}
            session.flush()
        done.append(item.incident_id)
    return done
