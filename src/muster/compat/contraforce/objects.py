"""Pure renderers: muster's incident views, entities, alerts and comments as ContraForce shows
them. The beta incident object has exactly the seed's properties in the seed's order
(integer enums); the v2 item is the same object with string enums plus displayId, source,
sourceDisplayName and entities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from muster.compat import mapping
from muster.compat.contraforce.envelopes import iso
from muster.compat.entities import EntityRecord
from muster.compat.evidence import EvidenceTable
from muster.compat.views import IncidentView
from muster.models import Alert, Comment
from muster.models.enums import SOAR_ASSIGNEE

INCIDENT_TYPE = "Microsoft.SecurityInsights/Incidents"
ENTITY_TYPE = "Microsoft.SecurityInsights/Entities"

# Sentinel entity kind -> the v2 entity `type` (ContraForce's own entity vocabulary)
V2_ENTITY_TYPES = {
    "Account": "User",
    "Host": "Device",
    "Ip": "IpAddress",
    "Mailbox": "Mailbox",
    "CloudApplication": "CloudApplication",
    "Url": "Url",
    "File": "File",
    "FileHash": "FileHash",
    "Process": "Process",
}


def user_object(view: IncidentView) -> dict[str, Any]:
    """`user{id, displayName, email}`: always present; all null when unassigned; SOAR shows
    as displayName "SOAR" with no id or e-mail."""
    if view.assignee is None:
        return {"id": None, "displayName": None, "email": None}
    if view.assignee == SOAR_ASSIGNEE:
        return {"id": None, "displayName": SOAR_ASSIGNEE, "email": None}
    user_id = view.assignee_user_id
    return {
        "id": str(user_id) if user_id is not None else None,
        "displayName": view.assignee_name,
        "email": view.assignee,
    }


def _common(view: IncidentView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "title": view.title,
        "description": view.description,
        "number": view.number,
        "type": INCIDENT_TYPE,
        "lastModificationTime": iso(view.updated_at),
        "creationTime": iso(view.created_at),
        "lastActivityTime": iso(view.last_activity_at),
    }


def _verdict(view: IncidentView) -> dict[str, Any]:
    return {
        "comment": view.last_comment,
        "classificationReason": mapping.contraforce_reason(view.resolution, view.resolution_reason),
        "classificationComment": view.resolution_comment,
        "tactics": [mapping.tactic_name(t) for t in view.tactics],
        "ruleIds": list(view.rule_names),
        "alertProductNames": list(view.products),
        "user": user_object(view),
        "isAssigned": view.assignee is not None,
        "productId": None,
    }


def beta_incident(view: IncidentView) -> dict[str, Any]:
    """The beta incident object: the seed's properties, in its order, integer enums."""
    verdict = _verdict(view)
    return {
        **_common(view),
        "severity": view.severity,
        "classification": mapping.classification_number(view.resolution),
        "comment": verdict.pop("comment"),
        **verdict,
        "status": mapping.status_number(view.status),
        "alertsCount": view.alerts_count,
    }


def source_name(view: IncidentView) -> str:
    """The ContraForce source (SIEM) an incident is shown under."""
    return mapping.source_of(view.products)


def beta_incident_across(view: IncidentView) -> dict[str, Any]:
    """The beta object as `/incidents/all` shows it: plus source (int), sourceDisplayName,
    workspaceId (the tenant id) and workspaceName (the tenant name)."""
    source = source_name(view)
    return {
        **beta_incident(view),
        "source": mapping.SOURCES[source],
        "sourceDisplayName": mapping.SOURCE_DISPLAY_NAMES[source],
        "workspaceId": str(view.tenant_id),
        "workspaceName": view.tenant_name,
    }


def v2_item(view: IncidentView, entities: Sequence[EntityRecord]) -> dict[str, Any]:
    """The v2 list item: string enums, displayId, source, sourceDisplayName, entities."""
    source = source_name(view)
    common = _common(view)
    verdict = _verdict(view)
    return {
        "id": common.pop("id"),
        "name": None,
        "displayId": str(view.number),
        "title": common.pop("title"),
        "description": common.pop("description"),
        "number": common.pop("number"),
        "type": common.pop("type"),
        "source": source,
        "sourceDisplayName": mapping.SOURCE_DISPLAY_NAMES[source],
        **common,
        "severity": mapping.severity_name(view.severity),
        "classification": mapping.classification_name(view.resolution),
        "comment": verdict.pop("comment"),
        **verdict,
        "status": mapping.status_name(view.status),
        "alertsCount": view.alerts_count,
        "entities": [v2_entity(e) for e in entities],
    }


def _entity_fields(entity: EntityRecord) -> dict[str, Any]:
    props = entity.properties
    upn = None
    if entity.kind == "Account":
        name, suffix = props.get("accountName"), props.get("upnSuffix")
        upn = f"{name}@{suffix}" if name and suffix else None
    file_name = props.get("fileName") if entity.kind == "File" else props.get("imageFile")
    return {
        "displayName": props.get("displayName") or entity.friendly_name,
        "fileName": file_name if isinstance(file_name, str) else None,
        "hostName": props.get("hostName") if entity.kind == "Host" else None,
        "accountEntityId": None,
        "commandLine": props.get("commandLine") if entity.kind == "Process" else None,
        "userUpn": upn,
        "deviceId": props.get("deviceId"),
    }


def beta_entity(entity: EntityRecord) -> dict[str, Any]:
    """The beta entity object (id and friendlyName never null; the rest by kind)."""
    fields = _entity_fields(entity)
    return {
        "id": entity.id,
        "friendlyName": entity.friendly_name or entity.kind,
        "displayName": fields["displayName"],
        "fileName": fields["fileName"],
        "type": ENTITY_TYPE,
        "hostName": fields["hostName"],
        "kind": entity.kind,
        "accountEntityId": fields["accountEntityId"],
        "commandLine": fields["commandLine"],
        "userUpn": fields["userUpn"],
        "deviceId": fields["deviceId"],
    }


def v2_entity(entity: EntityRecord) -> dict[str, Any]:
    """The v2 entity: ContraForce `type`, Sentinel `kind`, names and device ids."""
    fields = _entity_fields(entity)
    return {
        "id": entity.id,
        "type": V2_ENTITY_TYPES.get(entity.kind, entity.kind),
        "kind": entity.kind,
        "displayName": fields["displayName"],
        "friendlyName": entity.friendly_name or entity.kind,
        "fileName": fields["fileName"],
        "hostName": fields["hostName"],
        "accountEntityId": fields["accountEntityId"],
        "deviceId": fields["deviceId"],
        "deviceAzureId": None,
        "defenderAtpDeviceId": None,
        "commandLine": fields["commandLine"],
        "userUpn": fields["userUpn"],
    }


def evidence_object(table: EvidenceTable) -> dict[str, Any]:
    """`{columns, rows}`, every cell a string."""
    return {"columns": list(table.columns), "rows": [list(row) for row in table.rows]}


def alert_object(alert: Alert) -> dict[str, Any]:
    """An alert in a v2 investigation: title, severity name, product, times, MITRE."""
    return {
        "id": str(alert.id),
        "title": alert.rule_name,
        "description": alert.description,
        "severity": mapping.severity_name(alert.severity) if alert.severity else "Informational",
        "productName": alert.source,
        "vendorName": None,
        "status": "New",
        "tactics": [mapping.tactic_name(alert.mitre_tactic)] if alert.mitre_tactic else [],
        "techniques": [alert.mitre_technique] if alert.mitre_technique else [],
        "creationTime": iso(alert.created_at),
        "lastSeenTime": iso(alert.last_seen_at),
        "occurrences": alert.occurrences,
    }


def comment_dto(comment: Comment) -> dict[str, Any]:
    """IncidentCommentDto: SOAR's comments are agent comments; a closing note says so."""
    extra = comment.extra or {}
    is_agent = comment.author_type == "soar"
    return {
        "id": str(comment.id),
        "message": comment.body,
        "createdTime": iso(comment.created_at),
        "authorEmail": comment.author if "@" in comment.author else None,
        "authorName": comment.author_name,
        "isActivityComment": comment.author_type == "system",
        "isAgentComment": is_agent,
        "agentName": comment.author_name if is_agent else None,
        "isClosingComment": bool(extra.get("closing", False)),
        "ticketNoteId": extra.get("ticketNoteId"),
        "ticketId": extra.get("ticketId"),
    }
