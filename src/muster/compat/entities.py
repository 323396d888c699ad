"""An incident's entities, derived from its alerts, in Sentinel's kinds and property names.

Pure: `entities_of(incident_id, alerts)` reads each alert's typed `entities` (muster's
`{type, value, ...attributes}` convention, docs/sources.md) and the alert fields that name
things (hostname, username, IPs, the initiating process, file and hash), merges what names the
same thing (case-insensitively, per kind) and keeps which alerts named it. The ContraForce and
Sentinel facades render these records in their own shapes.
"""

from __future__ import annotations

import ntpath
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from muster.alerts.entities import AlertLike, named_entities


@dataclass(frozen=True, slots=True)
class EntityRecord:
    """One thing an incident is about: a Sentinel entity kind, its properties, its alerts."""

    id: str
    kind: str
    friendly_name: str
    properties: dict[str, Any]
    alert_ids: tuple[uuid.UUID, ...]


@dataclass(slots=True)
class _Building:
    kind: str
    friendly_name: str
    properties: dict[str, Any]
    alert_ids: list[uuid.UUID] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _account(value: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    upn = _text(attrs.get("upn")) or (value if "@" in value else None)
    name = _text(attrs.get("name"))
    domain = _text(attrs.get("ntDomain"))
    if name is None:
        if upn is not None:
            name = upn.split("@", 1)[0]
        elif "\\" in value:
            domain, name = value.split("\\", 1)
        else:
            name = value
    return {
        "accountName": name,
        "upnSuffix": upn.split("@", 1)[1] if upn else None,
        "ntDomain": domain,
        "sid": _text(attrs.get("sid")),
        "aadUserId": _text(attrs.get("aadUserId")),
        "displayName": _text(attrs.get("displayName")),
    }


def _host(value: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    fqdn = _text(attrs.get("fqdn")) or value
    host_name = _text(attrs.get("hostname")) or fqdn.split(".", 1)[0]
    dns_domain = _text(attrs.get("dnsDomain")) or (
        fqdn.split(".", 1)[1] if "." in fqdn and not fqdn.replace(".", "").isdigit() else None
    )
    return {
        "hostName": host_name,
        "dnsDomain": dns_domain,
        "netBiosName": _text(attrs.get("netBiosName")),
        "osFamily": _text(attrs.get("osFamily")),
        "deviceId": _text(attrs.get("deviceId")),
    }


def _file(value: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    path = value
    directory = _text(attrs.get("directory"))
    name = _text(attrs.get("name")) or ntpath.basename(path.replace("/", "\\")) or path
    if directory is None and name != path:
        directory = path[: len(path) - len(name)].rstrip("\\/") or None
    return {"fileName": name, "directory": directory}


def _hash_algorithm(value: str, attrs: Mapping[str, Any]) -> str:
    given = _text(attrs.get("algorithm"))
    if given:
        return given.upper().replace("-", "")
    return {32: "MD5", 40: "SHA1", 64: "SHA256"}.get(len(value), "Unknown")


def _process(value: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "commandLine": _text(attrs.get("commandLine")) or value,
        "processId": _text(attrs.get("processId")),
        "imageFile": _text(attrs.get("image")),
    }


# muster entity type -> (Sentinel kind, properties from (value, attributes))
_KINDS: Mapping[str, tuple[str, Callable[[str, Mapping[str, Any]], dict[str, Any]]]] = {
    "account": ("Account", _account),
    "host": ("Host", _host),
    "ip": ("Ip", lambda v, a: {"address": v}),
    "file": ("File", _file),
    "filehash": ("FileHash", lambda v, a: {"algorithm": _hash_algorithm(v, a), "hashValue": v}),
    "process": ("Process", _process),
    "url": ("Url", lambda v, a: {"url": v}),
    "mailbox": (
        "Mailbox",
        lambda v, a: {"mailboxPrimaryAddress": v, "displayName": _text(a.get("displayName"))},
    ),
    "domain": ("DnsResolution", lambda v, a: {"domainName": v}),
    "registry": (
        "RegistryKey",
        lambda v, a: {"key": _text(a.get("key")) or v, "valueName": _text(a.get("valueName"))},
    ),
    "cloudapp": (
        "CloudApplication",
        lambda v, a: {"appName": _text(a.get("name")) or v, "appId": _text(a.get("appId"))},
    ),
}


def entities_of(incident_id: uuid.UUID, alerts: Sequence[AlertLike]) -> list[EntityRecord]:
    """Every distinct entity the alerts name, first named first, with the alerts naming it."""
    found: dict[tuple[str, str], _Building] = {}
    for alert in alerts:
        for muster_type, value, attrs in named_entities(alert):
            if muster_type not in _KINDS:
                continue
            kind, properties_of = _KINDS[muster_type]
            key = (kind, value.casefold())
            properties = properties_of(value, attrs)
            building = found.get(key)
            if building is None:
                building = found[key] = _Building(kind, value, properties)
            else:  # what a later alert adds fills the gaps, never overwrites
                for name, given in properties.items():
                    if building.properties.get(name) is None and given is not None:
                        building.properties[name] = given
            if alert.id not in building.alert_ids:
                building.alert_ids.append(alert.id)
    return [
        EntityRecord(
            id=str(uuid.uuid5(incident_id, f"{kind}:{value}")),
            kind=b.kind,
            friendly_name=b.friendly_name,
            properties=b.properties,
            alert_ids=tuple(b.alert_ids),
        )
        for (kind, value), b in found.items()
    ]
