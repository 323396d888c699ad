"""Microsoft Sentinel `SecurityAlert` rows (Log Analytics table, JSON or CSV export) -> AlertIn.

Both column sets are read: the current one (`AlertName`, `AlertSeverity`, `StartTime`,
`ProductName`, `Tactics`, `Techniques`) and the legacy Azure Security Center one
(`AlertDisplayName`, `Severity`, `StartTimeUtc`, `ProviderAlertId`, no `ProductName`).
`Entities` and `ExtendedProperties` are JSON inside a text cell (or already decoded).
Event time is `StartTime` (when the activity began), never `TimeGenerated` (when the row was
written) unless nothing else is there. docs/sources.md has the full table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import mitre, sentinel_entities
from muster.alerts.formats.records import (
    finish,
    json_cell,
    port,
    require,
    text,
    text_at,
    time_at,
)
from muster.alerts.formats.severity import from_label

__all__ = ["looks_like", "to_alert"]

_RULE = ("AlertName", "DisplayName", "AlertDisplayName")
_ATTACKER_IP = ("Attacker IP", "AttackerIP", "Source IP", "Client IP Address")
_VICTIM_IP = ("Victim IP", "VictimIP", "Destination IP")


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for a SecurityAlert row of either column set."""
    return ("SystemAlertId" in record or "VendorOriginalId" in record) and any(
        name in record for name in _RULE
    )


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert a SecurityAlert row describes, with the row verbatim in `raw`."""
    rule = require(record, *_RULE)
    properties = json_cell(record, "ExtendedProperties")
    props: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
    entities = sentinel_entities.convert(json_cell(record, "Entities"))
    attack = mitre.resolve(
        mitre.listed(record.get("Tactics")) + mitre.listed(props.get("Tactics")),
        mitre.listed(record.get("Techniques"))
        + mitre.listed(record.get("SubTechniques"))
        + mitre.listed(props.get("MitreTechniques")),
    )
    hosts = [e for e in entities if e["type"] == "host"]
    accounts = [e for e in entities if e["type"] == "account"]
    ips = [e["value"] for e in entities if e["type"] == "ip"]
    src_ip = text_at(props, *_ATTACKER_IP) or (ips[0] if ips else None)
    dest_ip = text_at(props, *_VICTIM_IP)
    compromised = text(record.get("CompromisedEntity"))
    return finish(
        {
            "ruleName": rule,
            "description": text(record.get("Description")),
            "source": _product(record),
            "externalId": text_at(record, "SystemAlertId", "VendorOriginalId", "ProviderAlertId"),
            "severity": from_label(record.get("AlertSeverity") or record.get("Severity")),
            "category": text_at(props, "MicrosoftDefenderAtp.Category", "Category")
            or text(record.get("AlertType")),
            "action": _action(props),
            "hostname": hosts[0]["value"] if hosts else _host_like(compromised),
            "username": accounts[0]["value"] if accounts else None,
            "srcIp": src_ip,
            "srcPort": port(props.get("Attacker Port")),
            "destIp": dest_ip if dest_ip != src_ip else None,
            "destPort": port(props.get("Victim Port")),
            **_initiator(entities),
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": attack.tags,
            "rawEventDataset": text(record.get("Type")) or "SecurityAlert",
            "rawEventId": text_at(record, "VendorOriginalId", "ProviderAlertId"),
            "entities": entities,
            "createdAt": time_at(
                record, "StartTime", "StartTimeUtc", "EndTime", "EndTimeUtc", "TimeGenerated"
            ),
            "raw": record,
        }
    )


def _product(record: Mapping[str, Any]) -> str:
    """`ProductName`; legacy rows have none: scheduled rules are Sentinel's, the rest ASC's."""
    product = text(record.get("ProductName"))
    if product:
        return product
    if text(record.get("ProviderName")) == "CustomAlertRule":
        return "Azure Sentinel"
    return "Azure Security Center"


def _action(props: Mapping[str, Any]) -> str:
    """`Blocked` when the product says it blocked or prevented the activity."""
    taken = (text(props.get("ActionTaken")) or "").casefold()
    return "Blocked" if "block" in taken or "prevent" in taken else "Detected"


def _host_like(value: str | None) -> str | None:
    """`CompromisedEntity` as a host name, unless it names an account."""
    return value if value and "@" not in value and "\\" not in value else None


def _initiator(entities: list[dict[str, Any]]) -> dict[str, Any]:
    """The first process entity as initiator* fields, its image hash from the file entity."""
    process = next((e for e in entities if e["type"] == "process"), None)
    if process is None:
        return {}
    image = process.get("image")
    files = [e for e in entities if e["type"] == "file" and e["value"] == image]
    digest = None
    if files:
        digest = files[0].get("sha256") or files[0].get("sha1") or files[0].get("md5")
    return {
        "initiatedBy": process.get("name"),
        "initiatorPath": image,
        "initiatorCmd": process.get("commandLine"),
        "initiatorHash": digest,
    }
