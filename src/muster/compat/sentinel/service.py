"""Sentinel writes on muster incidents: create-or-update, with the etag check and the mapping.

A PUT carries the whole writable incident (the official client sends back what it read), so
only what differs from the incident's current Sentinel reading becomes a change: a verdict
that reads the same (e.g. TruePositive / SuspiciousActivity over a stored reason `Malware`)
keeps the stored one, and a verdict sent beside a status other than Closed is ignored (it is
what the client read before reopening). Services flush; the request commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from muster.compat.mapping import (
    classification_name,
    sentinel_reason,
    severity_from_name,
    status_from_name,
    verdict_from,
)
from muster.compat.sentinel.schemas import IncidentIn, IncidentPropertiesIn
from muster.compat.views import IncidentView, assignee_for, incident_view
from muster.errors import InvalidInput, NotFound, StaleVersion
from muster.incidents.comments import add_comment, delete_comment, edit_comment
from muster.incidents.lifecycle import Actor
from muster.incidents.relations import delete_relation, list_relations
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import (
    change_incident,
    create_incident,
    delete_incident,
    get_incident,
)
from muster.models import Comment, Incident
from muster.models.enums import IncidentStatus

P = "properties"


def incident_id_for_write(value: str) -> uuid.UUID:
    """The incident id a PUT names: muster's ids are UUIDs (a client chooses one to create)."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidInput.field("incidentId", f"{value!r} is not a UUID") from None


def etag_version(etag: str | None, field: str = "etag") -> int | None:
    """The version an etag (`"7"`, `W/"7"`, `7`) names; None for none or `*`."""
    if etag is None or etag.strip() in ("", "*"):
        return None
    cleaned = etag.strip().removeprefix("W/").strip('"')
    if not (cleaned.isascii() and cleaned.isdigit()):  # int() refuses "²"
        raise InvalidInput.field(field, 'is not an etag of this API, e.g. "3"')
    return int(cleaned)


def put_incident(
    session: Session,
    incident_id: uuid.UUID,
    body: IncidentIn,
    if_match: str | None,
    actor: Actor,
    now: datetime,
) -> tuple[IncidentView, bool]:
    """Create the incident under the client's id, or update it if the etag (header first,
    then body) is current (StaleVersion otherwise); the view after, and whether it was new."""
    version = etag_version(if_match, "If-Match") if if_match else etag_version(body.etag)
    props = body.properties
    try:
        get_incident(session, incident_id, lock=True)  # the etag is checked on the locked row
        created = False
    except NotFound:
        _create(session, incident_id, props, actor, now)
        created = True
    current = incident_view(session, incident_id)
    if not created and version is not None and version != current.version:
        raise StaleVersion(
            f"incident is at version {current.version}, not {version}; reload and retry"
        )
    requested = changes_for(session, current, props)
    if requested:
        change_incident(session, incident_id, requested, actor, now)
        current = incident_view(session, incident_id)
    return current, created


def _create(
    session: Session,
    incident_id: uuid.UUID,
    props: IncidentPropertiesIn,
    actor: Actor,
    now: datetime,
) -> None:
    missing = [name for name in ("title", "severity") if getattr(props, name) is None]
    if missing:
        raise InvalidInput(
            f"{P}.{missing[0]}: is required to create an incident",
            errors=[{"field": f"{P}.{m}", "message": "is required"} for m in missing],
        )
    assert props.title is not None and props.severity is not None
    data = IncidentCreate(
        description=props.title,
        details=props.description or "",
        severity=severity_from_name(props.severity, f"{P}.severity"),
        tags=_tags(props) or [],
    )
    create_incident(session, data, actor, now, incident_id=incident_id)


def changes_for(
    session: Session, current: IncidentView, props: IncidentPropertiesIn
) -> dict[str, Any]:
    """The muster changes (snake_case) a PUT's properties ask for beyond the current state."""
    wanted: dict[str, Any] = {}
    sent = props.model_fields_set
    if props.title is not None:
        wanted["description"] = props.title
    if "description" in sent:
        wanted["details"] = props.description or ""
    if props.severity is not None:
        wanted["severity"] = severity_from_name(props.severity, f"{P}.severity")
    if props.labels is not None:
        wanted["tags"] = _tags(props)
    if "owner" in sent:
        owner = props.owner
        wanted["assignee"] = (
            assignee_for(
                session,
                user_id=owner.object_id,
                email=owner.email or owner.user_principal_name,
                name=owner.assigned_to,
                field=f"{P}.owner",
            )
            if owner is not None
            else None
        )
    status = current.status
    if props.status is not None:
        status = status_from_name(props.status, f"{P}.status")
        wanted["status"] = status
    if status == IncidentStatus.RESOLVED:
        wanted.update(verdict_changes(current, props))
    before = {
        "description": current.title,
        "details": current.description,
        "severity": current.severity,
        "tags": current.tags,
        "assignee": current.assignee,
        "status": current.status,
        "resolution": current.resolution,
        "resolution_reason": current.resolution_reason,
        "resolution_comment": current.resolution_comment,
    }
    return {name: value for name, value in wanted.items() if before[name] != value}


def verdict_changes(current: IncidentView, props: IncidentPropertiesIn) -> dict[str, Any]:
    """resolution, reason and comment for an incident that is or becomes RESOLVED."""
    out: dict[str, Any] = {}
    if "classification_comment" in props.model_fields_set:
        out["resolution_comment"] = props.classification_comment
    if props.classification is None and props.classification_reason is None:
        if current.resolution is None:
            raise InvalidInput.field(f"{P}.classification", "is required to close an incident")
        return out  # the verdict stays
    shown = (
        classification_name(current.resolution),
        sentinel_reason(current.resolution, current.resolution_reason),
    )
    asked = (props.classification, props.classification_reason)
    if current.resolution is not None and _same_verdict(shown, asked):
        return out  # what the client read: keep muster's own (finer) reason
    resolution, reason = verdict_from(
        props.classification,
        props.classification_reason,
        classification_field=f"{P}.classification",
        reason_field=f"{P}.classificationReason",
    )
    if resolution is None:
        raise InvalidInput.field(f"{P}.classification", "is required to close an incident")
    out["resolution"] = resolution
    out["resolution_reason"] = reason
    return out


Verdict = tuple[str | None, str | None]


def _same_verdict(shown: Verdict, asked: Verdict) -> bool:
    def norm(value: str | None) -> str:
        return (value or "").strip().casefold()

    return all(norm(a) == norm(b) for a, b in zip(shown, asked, strict=True))


def _tags(props: IncidentPropertiesIn) -> list[str] | None:
    if props.labels is None:
        return None
    return list(dict.fromkeys(label.label_name for label in props.labels))


def delete_incident_if_present(session: Session, raw_id: str, actor: Actor, now: datetime) -> bool:
    """Delete the incident if the tenant has it; False when there was nothing to delete
    (ARM deletes are idempotent: the second one answers 204)."""
    try:
        incident_id = uuid.UUID(raw_id.strip())
    except ValueError:
        return False
    if session.get(Incident, incident_id) is None:
        return False
    delete_incident(session, incident_id, actor, now)
    return True


def put_comment(
    session: Session,
    incident_id: uuid.UUID,
    raw_comment_id: str,
    message: str,
    actor: Actor,
    now: datetime,
) -> tuple[Comment, bool]:
    """Create the comment under the client's id, or edit it (its author only); True if new."""
    try:
        comment_id = uuid.UUID(raw_comment_id.strip())
    except ValueError:
        raise InvalidInput.field("incidentCommentId", f"{raw_comment_id!r} is not a UUID") from None
    get_incident(session, incident_id)
    existing = session.get(Comment, comment_id)
    if existing is not None and existing.incident_id == incident_id:
        return edit_comment(session, incident_id, comment_id, message, actor, now), False
    return add_comment(session, incident_id, message, actor, now, comment_id=comment_id), True


def delete_comment_if_present(
    session: Session, incident_id: uuid.UUID, raw_comment_id: str, actor: Actor, now: datetime
) -> bool:
    """Delete the incident's comment if it exists (NotFound for a missing incident)."""
    get_incident(session, incident_id)
    try:
        comment_id = uuid.UUID(raw_comment_id.strip())
    except ValueError:
        return False
    existing = session.get(Comment, comment_id)
    if existing is None or existing.incident_id != incident_id:
        return False
    delete_comment(session, incident_id, comment_id, actor, now)
    return True


def delete_relation_if_present(
    session: Session, incident_id: uuid.UUID, name: str, actor: Actor, now: datetime
) -> bool:
    """Delete the incident's named relation if it exists (NotFound for a missing incident)."""
    if not any(r.name == name for r in list_relations(session, incident_id)):
        return False
    delete_relation(session, incident_id, name, actor, now)
    return True
