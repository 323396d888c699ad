"""Sentinel entities rendered from muster data: SecurityAlert for alerts, and the incident's
entities by `kind` (reference.md §3.4 and §3.5). Pure: values in, JSON-ready dicts out."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from muster.compat.mapping import severity_name, tactic_name
from muster.compat.sentinel.arm import ENTITY_TYPE, Workspace
from muster.compat.sentinel.resources import utc_text

if TYPE_CHECKING:
    from muster.compat.entities import EntityRecord
    from muster.models import Alert

# Sentinel's KillChainIntent values that an ATT&CK tactic can name (SDK 1.0.0)
_INTENTS = frozenset(
    {
        "Probing",
        "Exploitation",
        "Persistence",
        "PrivilegeEscalation",
        "DefenseEvasion",
        "CredentialAccess",
        "Discovery",
        "LateralMovement",
        "Execution",
        "Collection",
        "Exfiltration",
        "CommandAndControl",
        "Impact",
    }
)


def alert_severity(severity: int) -> str:
    """An alert's Sentinel severity; muster's 0 (unspecified) reads as Informational."""
    return severity_name(severity) if 1 <= severity <= 4 else "Informational"


def vendor_of(product: str) -> str:
    """The vendor a product name begins with ("Microsoft Defender for Endpoint" -> Microsoft)."""
    words = product.split()
    return words[0] if words else product


def compromised_entity(alert: Alert) -> str | None:
    """The asset an alert is about: its host, else its user, else the destination host."""
    return alert.hostname or alert.username or alert.dest_hostname


def security_alert(ws: Workspace, alert: Alert, public_url: str) -> dict[str, Any]:
    """The SecurityAlert entity for an alert."""
    tactics = [tactic_name(alert.mitre_tactic)] if alert.mitre_tactic else []
    intent = tactics[0] if tactics and tactics[0] in _INTENTS else "Unknown"
    return {
        "id": ws.entity_id(alert.id),
        "name": str(alert.id),
        "type": ENTITY_TYPE,
        "kind": "SecurityAlert",
        "properties": {
            "alertDisplayName": alert.rule_name,
            "alertType": alert.category or alert.rule_name,
            "alertLink": f"{public_url.rstrip('/')}/api/v1/alerts/{alert.id}",
            "description": alert.description,
            "severity": alert_severity(alert.severity),
            "status": "New",
            "confidenceLevel": "Unknown",
            "productName": alert.source,
            "vendorName": vendor_of(alert.source),
            "startTimeUtc": utc_text(alert.created_at),
            "endTimeUtc": utc_text(alert.last_seen_at),
            "timeGenerated": utc_text(alert.created_at),
            "processingEndTime": utc_text(alert.updated_at),
            "tactics": tactics,
            "techniques": [alert.mitre_technique] if alert.mitre_technique else [],
            "intent": intent,
            "compromisedEntity": compromised_entity(alert),
            "systemAlertId": str(alert.id),
            "providerAlertId": alert.external_id or str(alert.id),
            "remediationSteps": [],
            "resourceIdentifiers": [
                {
                    "type": "LogAnalytics",
                    "workspaceId": ws.name,
                    "subscriptionId": ws.subscription,
                    "resourceGroup": ws.resource_group,
                }
            ],
            "additionalData": {
                "AlertMessageEnqueueTime": utc_text(alert.created_at),  # when muster took it in
                "Category": alert.category,
                "Action": alert.action,
                "Occurrences": alert.occurrences,
            },
            "friendlyName": alert.rule_name,
        },
    }


def entity_resource(ws: Workspace, record: EntityRecord) -> dict[str, Any]:
    """An Entity of its kind, with the Sentinel property names for that kind."""
    return {
        "id": ws.entity_id(record.id),
        "name": record.id,
        "type": ENTITY_TYPE,
        "kind": record.kind,
        "properties": {
            **record.properties,
            "friendlyName": record.friendly_name,
            "additionalData": {"AlertIds": [str(a) for a in record.alert_ids]},
        },
    }


def entities_response(ws: Workspace, records: list[EntityRecord]) -> dict[str, Any]:
    """IncidentEntitiesResponse: the entities and a count per kind (first seen first)."""
    counts = Counter(record.kind for record in records)
    return {
        "entities": [entity_resource(ws, record) for record in records],
        "metaData": [{"count": n, "entityKind": kind} for kind, n in counts.items()],
    }
