"""OCSF Detection Finding (class 2004) and Security Finding (2001) events -> AlertIn.

Class, severity and observable names come from the OCSF schema the record declares
(`metadata.version`), shipped offline (`ocsf_schema`). `finding_info` (1.x) and `finding`
(the 1.0 Security Finding) are both read. Event time is when the activity was first seen
(`finding_info.first_seen_time[_dt]`), else the event `time[_dt]`; epoch numbers may be
milliseconds (the standard) or seconds (some producers). Severity: Informational..High map
one to one, Critical and Fatal are High, Unknown is 0, Other falls back to the `severity` text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import entities as ent
from muster.alerts.formats import mitre
from muster.alerts.formats.ocsf_schema import (
    class_caption,
    observable_caption,
    schema_version,
    severity_caption,
)
from muster.alerts.formats.records import (
    Unmappable,
    finish,
    get,
    port,
    text,
    text_at,
    texts,
    time_at,
)
from muster.alerts.formats.severity import from_label

__all__ = ["CLASSES", "looks_like", "to_alert"]

CLASSES = (2001, 2004)  # Security Finding, Detection Finding
_BLOCKED = {"Blocked", "Denied", "Dropped", "Quarantined", "Isolated", "Deleted", "Restricted"}
_OBSERVABLE = {
    "Hostname": "host",
    "IP Address": "ip",
    "User Name": "account",
    "Email Address": "mailbox",
    "URL String": "url",
    "Uniform Resource Locator": "url",
    "File Name": "file",
    "Hash": "filehash",
    "Process Name": "process",
}


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for an OCSF event of a finding class."""
    uid = record.get("class_uid")
    return isinstance(uid, int) and uid in CLASSES and isinstance(record.get("metadata"), Mapping)


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert an OCSF finding describes, with the event verbatim in `raw`."""
    version = schema_version(get(record, "metadata.version"))
    class_uid = record.get("class_uid")
    if not isinstance(class_uid, int) or class_uid not in CLASSES:
        caption = class_caption(version, class_uid) if isinstance(class_uid, int) else None
        raise Unmappable(
            "class_uid",
            f"must be 2004 (Detection Finding) or 2001 (Security Finding), got {class_uid!r}"
            + (f" ({caption})" if caption else ""),
        )
    info = _finding(record)
    title = text_at(info, "title") or text(record.get("message"))
    if title is None:
        raise Unmappable("finding_info.title")
    attack = _attack(record, info)
    observed = _observed(record, version)
    hostname = text_at(record, "device.hostname", "device.name") or _first(observed, "host")
    username = text_at(record, "actor.user.name", "user.name") or _first(observed, "account")
    src_ip = text_at(record, "src_endpoint.ip") or _evidence(record, "src_endpoint.ip")
    dest_ip = text_at(record, "dst_endpoint.ip") or _evidence(record, "dst_endpoint.ip")
    return finish(
        {
            "ruleName": title,
            "description": text_at(info, "desc") or text(record.get("message")),
            "source": text_at(record, "metadata.product.name", "metadata.product.vendor_name")
            or "OCSF",
            "externalId": text_at(info, "uid") or text_at(record, "metadata.uid"),
            "severity": _severity(record, version, class_uid),
            "category": next(iter(texts(info.get("types"))), None)
            or class_caption(version, class_uid),
            "action": _action(record),
            "hostname": hostname,
            "username": username,
            "srcIp": src_ip,
            "srcPort": port(text_at(record, "src_endpoint.port")),
            "destIp": dest_ip,
            "destPort": port(text_at(record, "dst_endpoint.port")),
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": attack.tags,
            "rawEventDataset": f"ocsf:{class_uid}",
            "rawEventId": text_at(record, "metadata.uid"),
            "entities": ent.merged(
                [
                    ent.host(hostname=hostname, device_id=text_at(record, "device.uid")),
                    ent.account(name=username, upn=text_at(record, "actor.user.email_addr")),
                    ent.ip(src_ip),
                    ent.ip(dest_ip),
                    *observed,
                    *_resources(record),
                ]
            ),
            "createdAt": time_at(
                info,
                "first_seen_time_dt",
                "first_seen_time",
                "created_time_dt",
                "created_time",
            )
            or time_at(record, "time_dt", "time"),
            "raw": record,
        }
    )


def _finding(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """`finding_info` (OCSF 1.x) or `finding` (1.0 Security Finding); {} when neither."""
    for name in ("finding_info", "finding"):
        value = record.get(name)
        if isinstance(value, Mapping):
            return value
    return {}


def _severity(record: Mapping[str, Any], version: str, class_uid: int) -> int:
    """muster severity from `severity_id` by its schema caption, else the `severity` text."""
    caption = severity_caption(version, class_uid, record.get("severity_id"))
    mapped = from_label(caption)
    if mapped or caption == "Unknown":
        return mapped
    return from_label(record.get("severity"))


def _action(record: Mapping[str, Any]) -> str:
    """`Blocked` when the disposition or action says the activity was stopped."""
    words = {text(record.get("disposition")), text(record.get("action"))}
    return "Blocked" if words & _BLOCKED else "Detected"


def _attack(record: Mapping[str, Any], info: Mapping[str, Any]) -> mitre.Mitre:
    """ATT&CK of `finding_info.attacks` / `attacks`, else of AWS `TTPs/<Tactic>/...` types."""
    tactics: list[str] = []
    techniques: list[str] = []
    for attack in [*(info.get("attacks") or []), *(record.get("attacks") or [])]:
        if not isinstance(attack, Mapping):
            continue
        tactics += texts(get(attack, "tactic.uid")) + texts(get(attack, "tactic.name"))
        for tactic in attack.get("tactics") or []:
            if isinstance(tactic, Mapping):
                tactics += texts(tactic.get("uid")) + texts(tactic.get("name"))
        techniques += texts(get(attack, "technique.uid"))
        techniques += texts(get(attack, "sub_technique.uid"))
    for kind in texts(info.get("types")):
        parts = kind.split("/")
        if len(parts) > 1 and parts[0] == "TTPs":
            tactics.append(parts[1])
    return mitre.resolve(tactics, techniques)


def _observed(record: Mapping[str, Any], version: str) -> list[dict[str, Any] | None]:
    """Entities from `observables`, typed by the schema's observable type captions."""
    found: list[dict[str, Any] | None] = []
    for item in record.get("observables") or []:
        if not isinstance(item, Mapping):
            continue
        caption = observable_caption(version, item.get("type_id")) or text(item.get("type"))
        kind = _OBSERVABLE.get(caption or "")
        if kind is None and text(item.get("name")) == "hostname":
            kind = "host"  # producers that type every observable as Other (Falco)
        found.append(_observable(kind, caption, item.get("value")))
    return found


def _observable(kind: str | None, caption: str | None, value: Any) -> dict[str, Any] | None:
    """One observable as a muster entity."""
    builders: dict[str, Any] = {
        "host": lambda v: ent.host(hostname=v),
        "ip": ent.ip,
        "account": lambda v: ent.account(name=v),
        "mailbox": ent.mailbox,
        "url": ent.url,
        "file": lambda v: ent.file(name=v),
        "filehash": ent.filehash,
        "process": lambda v: ent.process(name=v),
    }
    if kind is None:
        return ent.other(caption or "observable", value) if caption == "Resource UID" else None
    built: dict[str, Any] | None = builders[kind](value)
    return built


def _resources(record: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """Affected cloud resources, by their uid (ARN, resource id)."""
    return [
        ent.other("resource", get(item, "uid"), resourceType=text(get(item, "type")))
        for item in record.get("resources") or []
        if isinstance(item, Mapping)
    ]


def _first(entities: list[dict[str, Any] | None], kind: str) -> str | None:
    """The value of the first entity of a type."""
    return next((str(e["value"]) for e in entities if e and e["type"] == kind), None)


def _evidence(record: Mapping[str, Any], path: str) -> str | None:
    """The first value at `path` among `evidences`."""
    for item in record.get("evidences") or []:
        found = text_at(item, path)
        if found:
            return found
    return None
