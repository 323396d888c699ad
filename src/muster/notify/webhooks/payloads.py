"""Webhook bodies, built from plain data when the event happens and frozen in the delivery row.

Two shapes (docs/notifications.md has an example of each event type):

- `standard`: `{id, type, occurredAt, timelineEventId, tenant, incident, changes, actor,
  reason}`; `incident` is the incident as it was when the event was written.
- `contraforce`: the envelope `{type, timestamp, isTest, occurredAt, data}` of the ContraForce
  sample receivers, `data` holding the `incident.created.v1` fields (accountId, incidentId,
  title, owner, alerts, entities...) plus `changes`, `actor` and `reason`.

An event id is derived from the timeline row and the type (`event_id`), so one row that raises
two types (a PATCH that resolves and unassigns) gives two events, and a redelivery keeps its id.
Pure: no database, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "PING",
    "TenantRef",
    "contraforce_envelope",
    "event_id",
    "incident_view",
    "jsonable",
    "ping_payload",
    "render",
    "sla_state",
    "standard_payload",
]

PING = "ping"
INCIDENT_PATH = "/incidents/"
SEVERITY_NAMES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
MAX_CF_ENTITIES = 50
_EVENTS = uuid.UUID("0d5c3f9e-6b51-4c52-9a51-7d0f2f1e8a40")  # namespace of derived event ids
# bit flags of incidents.sla_raised (muster.sla.clock): at risk 1|4, breached 2|8
_SLA_AT_RISK, _SLA_BREACHED = 1 | 4, 2 | 8

TenantRef = tuple[uuid.UUID, str]  # (id, name)


def render(payload: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """The body as sent: the frozen payload with its incident link made absolute."""
    body = dict(payload)
    holder = "data" if "data" in body and "isTest" in body else "incident"
    part = body.get(holder)
    if isinstance(part, Mapping) and str(part.get("url", "")).startswith(INCIDENT_PATH):
        body[holder] = {**part, "url": public_url.rstrip("/") + part["url"]}
    return body


def event_id(row_id: uuid.UUID | str, event_type: str) -> uuid.UUID:
    """The id of the event of `event_type` a timeline row raised (stable, unique per type)."""
    return uuid.uuid5(_EVENTS, f"{row_id}:{event_type}")


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, as the API writes timestamps."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """`value` with timestamps and ids as strings (what JSON columns and bodies hold)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def sla_state(facts: Mapping[str, Any]) -> str | None:
    """`excluded`, `breached`, `at_risk`, `met` or `ok` from the SLA events raised so far;
    None for an incident without due times."""
    if facts.get("exclude_from_sla"):
        return "excluded"
    if facts.get("response_due_at") is None and facts.get("resolution_due_at") is None:
        return None
    raised = int(facts.get("sla_raised") or 0)
    if raised & _SLA_BREACHED:
        return "breached"
    if raised & _SLA_AT_RISK:
        return "at_risk"
    return "met" if facts.get("resolved_at") is not None else "ok"


def incident_view(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The incident part of a payload, from its row (snake_case column names). Its `url` is a
    path until `render` puts the service's public URL in front."""
    return {
        "id": str(facts["id"]),
        "number": facts["number"],
        "incidentHash": facts["incident_hash"],
        "description": facts["description"],
        "details": facts["details"],
        "severity": facts["severity"],
        "status": facts["status"],
        "resolution": facts["resolution"],
        "assignee": facts["assignee"],
        "assigneeName": facts["assignee_name"],
        "source": facts["source"],
        "mitreTactic": facts["mitre_tactic"],
        "mitreTechnique": facts["mitre_technique"],
        "tags": list(facts["tags"] or []),
        "alertCount": facts["alert_count"],
        "soarStatus": facts["soar_status"],
        "createdAt": iso(facts["created_at"]),
        "updatedAt": iso(facts["updated_at"]),
        "respondedAt": iso(facts["responded_at"]),
        "resolvedAt": iso(facts["resolved_at"]),
        "responseDueAt": iso(facts["response_due_at"]),
        "resolutionDueAt": iso(facts["resolution_due_at"]),
        "slaState": sla_state(facts),
        "url": f"{INCIDENT_PATH}{facts['id']}",
    }


def standard_payload(
    event_type: str,
    row: Mapping[str, Any],
    tenant: TenantRef,
    incident: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The standard body of the event of `event_type` raised by timeline `row`."""
    return {
        "id": str(event_id(row["id"], event_type)),
        "type": event_type,
        "occurredAt": iso(row["created_at"]),
        "timelineEventId": str(row["id"]),
        "tenant": {"id": str(tenant[0]), "name": tenant[1]},
        "incident": dict(incident) if incident is not None else None,
        "changes": jsonable(row["changes"]),
        "actor": {"type": row["actor_type"], "id": row["actor"]},
        "reason": row["reason"],
    }


def ping_payload(
    subscription_id: uuid.UUID, name: str, tenant: TenantRef, now: datetime, ident: uuid.UUID
) -> dict[str, Any]:
    """The standard body of a test delivery (`POST /webhooks/{id}/test`)."""
    return {
        "id": str(ident),
        "type": PING,
        "isTest": True,
        "occurredAt": iso(now),
        "tenant": {"id": str(tenant[0]), "name": tenant[1]},
        "webhook": {"id": str(subscription_id), "name": name},
        "incident": None,
        "changes": {},
        "actor": None,
        "reason": "test delivery",
    }


def contraforce_envelope(
    standard: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The ContraForce-style body of a standard payload; `alerts` are the incident's most recent
    alerts (snake_case: rule_name, severity, source, entities)."""
    tenant = standard["tenant"]
    data: dict[str, Any] = {"accountId": tenant["id"], "accountName": tenant["name"]}
    incident = standard.get("incident")
    if incident is not None:
        data |= _cf_incident(incident, alerts)
    data |= {
        "occurredAt": standard["occurredAt"],
        "eventId": standard["id"],
        "changes": standard["changes"],
        "actor": standard["actor"],
        "reason": standard["reason"],
    }
    if "webhook" in standard:
        data["webhook"] = standard["webhook"]
    return {
        "type": standard["type"],
        "timestamp": standard["occurredAt"],
        "isTest": bool(standard.get("isTest", False)),
        "occurredAt": standard["occurredAt"],
        "data": data,
    }


def _cf_incident(
    incident: Mapping[str, Any], alerts: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The `incident.created.v1` fields ContraForce receivers read, from a standard incident."""
    owner = None
    if incident["assignee"] is not None:
        email = incident["assignee"] if "@" in incident["assignee"] else None
        owner = {"displayName": incident["assigneeName"], "email": email}
    products = sorted({str(a["source"]) for a in alerts}) or [incident["source"]]
    return {
        "incidentId": incident["id"],
        "incidentNumber": incident["number"],
        "incidentHash": incident["incidentHash"],
        "title": incident["description"],
        "description": incident["details"],
        "severity": SEVERITY_NAMES.get(incident["severity"], "Unknown"),
        "status": incident["status"],
        "source": incident["source"],
        "sourceDisplayName": incident["source"],
        "owner": owner,
        "createdAt": incident["createdAt"],
        "lastActivityAt": incident["updatedAt"],
        "alertProductNames": products,
        "alerts": [
            {
                "title": a["rule_name"],
                "severity": SEVERITY_NAMES.get(a["severity"], "Unknown"),
                "productName": a["source"],
                "vendorName": a["source"],
            }
            for a in alerts
        ],
        "entities": _cf_entities(alerts),
        "url": incident["url"],
    }


def _cf_entities(alerts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The alerts' entities as `{type, displayName}`, without repeats, at most MAX_CF_ENTITIES."""
    seen: dict[tuple[str, str], None] = {}
    for alert in alerts:
        for entity in alert.get("entities") or []:
            if not isinstance(entity, Mapping) or not entity.get("type"):
                continue
            key = (str(entity["type"]), str(entity.get("value") or ""))
            seen.setdefault(key, None)
            if len(seen) >= MAX_CF_ENTITIES:
                break
    return [{"type": kind, "displayName": value} for kind, value in seen]
