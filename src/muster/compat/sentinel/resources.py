"""Sentinel resources rendered from muster data: Incident, IncidentComment, Relation.

Pure: plain data in (`IncidentView`, ORM rows read as values), JSON-ready dicts out, in the
shapes of the Sentinel REST API (reference.md §3.3 and §3.4). Alerts and entities are rendered in
`muster.compat.sentinel.entities`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from muster.compat.mapping import (
    classification_name,
    sentinel_reason,
    severity_name,
    status_name,
    tactic_name,
)
from muster.compat.sentinel.arm import (
    COMMENT_TYPE,
    INCIDENT_TYPE,
    RELATION_TYPE,
    Workspace,
    parse_resource_id,
)
from muster.models.enums import SOAR_ASSIGNEE

if TYPE_CHECKING:
    from muster.compat.views import IncidentView
    from muster.models import Comment, IncidentRelation

PROVIDER_NAME = "muster"


def utc_text(value: datetime | None) -> str | None:
    """An ISO-8601 UTC timestamp ending in Z (naive values are UTC), or None."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def etag_of(version: int) -> str:
    """The quoted etag of a resource version."""
    return f'"{version}"'


def incident_url(public_url: str, incident_id: uuid.UUID) -> str:
    """The link from a Sentinel incident into muster's own API."""
    return f"{public_url.rstrip('/')}/api/v1/incidents/{incident_id}"


def owner_of(view: IncidentView) -> dict[str, Any]:
    """IncidentOwnerInfo: a member (User), SOAR (assignedTo "SOAR", no objectId) or nobody."""
    if view.assignee is None:
        return {
            "objectId": None,
            "email": None,
            "assignedTo": None,
            "userPrincipalName": None,
            "ownerType": "Unknown",
        }
    if view.assignee == SOAR_ASSIGNEE:
        return {
            "objectId": None,
            "email": None,
            "assignedTo": SOAR_ASSIGNEE,
            "userPrincipalName": None,
            "ownerType": "Unknown",
        }
    return {
        "objectId": str(view.assignee_user_id) if view.assignee_user_id else None,
        "email": view.assignee,
        "assignedTo": view.assignee_name or view.assignee,
        "userPrincipalName": view.assignee,
        "ownerType": "User",
    }


def system_data(created_at: datetime, updated_at: datetime | None) -> dict[str, Any]:
    """ARM systemData: muster creates and changes these resources on its users' behalf."""
    return {
        "createdBy": PROVIDER_NAME,
        "createdByType": "Application",
        "createdAt": utc_text(created_at),
        "lastModifiedBy": PROVIDER_NAME,
        "lastModifiedByType": "Application",
        "lastModifiedAt": utc_text(updated_at or created_at),
    }


def incident_resource(ws: Workspace, view: IncidentView, public_url: str) -> dict[str, Any]:
    """The Incident resource (reference.md §3.3) for an incident."""
    url = incident_url(public_url, view.id)
    return {
        "id": ws.incident_id(view.id),
        "name": str(view.id),
        "type": INCIDENT_TYPE,
        "etag": etag_of(view.version),
        "systemData": system_data(view.created_at, view.updated_at),
        "properties": {
            "title": view.title,
            "description": view.description,
            "severity": severity_name(view.severity),
            "status": status_name(view.status),
            "classification": classification_name(view.resolution),
            "classificationReason": sentinel_reason(view.resolution, view.resolution_reason),
            "classificationComment": view.resolution_comment,
            "owner": owner_of(view),
            "labels": [{"labelName": tag, "labelType": "User"} for tag in view.tags],
            "firstActivityTimeUtc": utc_text(view.first_activity_at),
            "lastActivityTimeUtc": utc_text(view.last_activity_at),
            "createdTimeUtc": utc_text(view.created_at),
            "lastModifiedTimeUtc": utc_text(view.updated_at),
            "incidentNumber": view.number,
            "incidentUrl": url,
            "providerName": PROVIDER_NAME,
            "providerIncidentId": str(view.number),
            "relatedAnalyticRuleIds": list(view.rule_names),
            "additionalData": {
                "alertsCount": view.alerts_count,
                "bookmarksCount": 0,
                "commentsCount": view.comments_count,
                "alertProductNames": list(view.products),
                "tactics": [tactic_name(tactic) for tactic in view.tactics],
                "techniques": list(view.techniques),
                "providerIncidentUrl": url,
            },
        },
    }


def comment_author(comment: Comment, object_id: uuid.UUID | None) -> dict[str, Any]:
    """ClientInfo of a comment's author: a person's e-mail and id, or the key's/SOAR's name."""
    person = comment.author_type == "user" or "@" in comment.author
    return {
        "email": comment.author if person else None,
        "name": comment.author_name,
        "objectId": str(object_id) if object_id else None,
        "userPrincipalName": comment.author if person else None,
    }


def comment_resource(
    ws: Workspace, comment: Comment, author_object_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """The IncidentComment resource for a comment."""
    changed = comment.updated_at or comment.created_at
    return {
        "id": ws.comment_id(comment.incident_id, comment.id),
        "name": str(comment.id),
        "type": COMMENT_TYPE,
        "etag": etag_of(int(changed.timestamp() * 1_000_000)),
        "systemData": system_data(comment.created_at, comment.updated_at),
        "properties": {
            "message": comment.body,
            "createdTimeUtc": utc_text(comment.created_at),
            "lastModifiedTimeUtc": utc_text(changed),
            "author": comment_author(comment, author_object_id),
        },
    }


def relation_resource(ws: Workspace, relation: IncidentRelation) -> dict[str, Any]:
    """The Relation resource; name, type and kind of the related resource come from its id."""
    ref = parse_resource_id(relation.related_resource_id)
    return {
        "id": ws.relation_id(relation.incident_id, relation.name),
        "name": relation.name,
        "type": RELATION_TYPE,
        "etag": etag_of(int(relation.created_at.timestamp() * 1_000_000)),
        "systemData": system_data(relation.created_at, None),
        "properties": {
            "relatedResourceId": relation.related_resource_id,
            "relatedResourceName": ref.name,
            "relatedResourceType": ref.type,
            "relatedResourceKind": ref.kind,
        },
    }


def page_of(items: list[dict[str, Any]], next_link: str | None) -> dict[str, Any]:
    """An ARM list page: `value`, and `nextLink` only when there is a next page."""
    body: dict[str, Any] = {"value": items}
    if next_link is not None:
        body["nextLink"] = next_link
    return body
