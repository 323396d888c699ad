"""The Microsoft Sentinel REST API's alert entity (`kind: SecurityAlert`) -> AlertIn.

The shape of `GET .../incidents/{id}/alerts`: `{id, name, type, kind, properties: {...}}` with
camelCase properties (`alertDisplayName`, `severity`, `startTimeUtc`, `tactics`, ...). A bare
`properties` object is accepted too. Entities are not part of the alert entity (the API
lists them separately); when a client sends them along as `properties.entities` (Sentinel's
entity graph) they are read like the table's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import mitre, sentinel_entities
from muster.alerts.formats.records import Unmappable, finish, text, text_at, time_at
from muster.alerts.formats.severity import from_label

__all__ = ["looks_like", "to_alert"]


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for a REST alert entity (`kind: SecurityAlert` with `properties`)."""
    return record.get("kind") == "SecurityAlert" and isinstance(record.get("properties"), Mapping)


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert a REST alert entity describes, with the entity verbatim in `raw`."""
    props = record.get("properties", record)
    if not isinstance(props, Mapping):
        raise Unmappable("properties", "must be an object")
    rule = text_at(props, "alertDisplayName", "friendlyName")
    if rule is None:
        raise Unmappable("properties.alertDisplayName")
    entities = sentinel_entities.convert(props.get("entities"))
    attack = mitre.resolve(
        mitre.listed(props.get("tactics")),
        mitre.listed(props.get("techniques")) + mitre.listed(props.get("subTechniques")),
    )
    hosts = [e for e in entities if e["type"] == "host"]
    accounts = [e for e in entities if e["type"] == "account"]
    ips = [e["value"] for e in entities if e["type"] == "ip"]
    compromised = text(props.get("compromisedEntity"))
    return finish(
        {
            "ruleName": rule,
            "description": text(props.get("description")),
            "source": text_at(props, "productName", "vendorName") or "Microsoft Sentinel",
            "externalId": text_at(props, "systemAlertId") or text(record.get("name")),
            "severity": from_label(props.get("severity")),
            "category": text(props.get("alertType")),
            "hostname": hosts[0]["value"] if hosts else compromised,
            "username": accounts[0]["value"] if accounts else None,
            "srcIp": ips[0] if ips else None,
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": attack.tags,
            "rawEventDataset": "SecurityAlert",
            "rawEventId": text(props.get("providerAlertId")),
            "entities": entities,
            "createdAt": time_at(props, "startTimeUtc", "endTimeUtc", "timeGenerated"),
            "raw": record,
        }
    )
