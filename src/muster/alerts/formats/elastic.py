"""Elastic Security detection alerts (ECS + `kibana.alert.*`, 8.x; `signal.*` of 7.x) -> AlertIn.

Accepted envelopes: the alert document itself, a search hit (`{_id, _source}`) and an
es_archive line (`{"type": "doc", "value": {id, source}}`). Fields are read flattened
(`"kibana.alert.rule.name"`) or nested (`{"host": {"name": ...}}`) alike. Event time is
`kibana.alert.original_time` (the source event's time), not `@timestamp` (when the rule ran).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import entities as ent
from muster.alerts.formats import mitre
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

__all__ = ["document", "looks_like", "to_alert"]

_RULE_NAME = ("kibana.alert.rule.name", "signal.rule.name")


def document(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
    """The alert document inside its envelope, and the envelope's document id."""
    value = record.get("value")
    if record.get("type") == "doc" and isinstance(value, Mapping):
        source = value.get("source")
        if isinstance(source, Mapping):
            return source, text(value.get("id"))
    source = record.get("_source")
    if isinstance(source, Mapping):
        return source, text(record.get("_id"))
    return record, None


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for an Elastic Security alert in any accepted envelope."""
    doc, _ = document(record)
    return any(get(doc, name) is not None for name in (*_RULE_NAME, "kibana.alert.uuid"))


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert an Elastic Security alert describes, with the record verbatim in `raw`."""
    doc, doc_id = document(record)
    rule = text_at(doc, *_RULE_NAME)
    if rule is None:
        raise Unmappable("kibana.alert.rule.name")
    attack = _attack(doc)
    hostname = text_at(doc, "host.name", "host.hostname")
    username = text_at(doc, "user.name")
    src_ip, dest_ip = text_at(doc, "source.ip"), text_at(doc, "destination.ip")
    process = ent.process(
        command_line=get(doc, "process.command_line"),
        process_id=get(doc, "process.pid"),
        image=get(doc, "process.executable"),
        name=get(doc, "process.name"),
    )
    return finish(
        {
            "ruleName": rule,
            "description": text_at(
                doc, "kibana.alert.reason", "kibana.alert.rule.description", "signal.reason"
            ),
            "source": "Elastic Security",
            "externalId": text_at(doc, "kibana.alert.uuid") or doc_id,
            "severity": from_label(
                text_at(doc, "kibana.alert.severity", "kibana.alert.rule.severity")
                or text_at(doc, "signal.rule.severity")
            ),
            "category": next(iter(texts(get(doc, "event.category"))), None)
            or text_at(doc, "kibana.alert.rule.category"),
            "action": _action(doc),
            "hostname": hostname,
            "srcIp": src_ip,
            "srcPort": port(get(doc, "source.port")),
            "destIp": dest_ip,
            "destPort": port(get(doc, "destination.port")),
            "destHostname": text_at(doc, "destination.domain"),
            "username": username,
            "initiatedBy": (process or {}).get("name"),
            "initiatorPath": (process or {}).get("image"),
            "initiatorCmd": (process or {}).get("commandLine"),
            "initiatorSigner": text_at(doc, "process.code_signature.subject_name"),
            "initiatorSignature": text_at(doc, "process.code_signature.status"),
            "initiatorHash": text_at(doc, "process.hash.sha256", "process.hash.sha1"),
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": texts(get(doc, "kibana.alert.rule.tags")) + attack.tags,
            "rawEventDataset": text_at(doc, "event.dataset", "kibana.alert.original_event.dataset"),
            "rawEventId": _ancestor(doc),
            "entities": _entities(doc, hostname, username, process),
            "createdAt": time_at(
                doc, "kibana.alert.original_time", "signal.original_time", "@timestamp"
            ),
            "raw": record,
        }
    )


def _attack(doc: Mapping[str, Any]) -> mitre.Mitre:
    """Tactics and techniques of the rule's `threat` list and of ECS `threat.*`."""
    tactics: list[str] = []
    techniques: list[str] = []
    for threat in get(doc, "kibana.alert.rule.threat") or get(doc, "signal.rule.threat") or []:
        if not isinstance(threat, Mapping):
            continue
        tactics += texts(get(threat, "tactic.id")) + texts(get(threat, "tactic.name"))
        for tech in threat.get("technique") or []:
            if isinstance(tech, Mapping):
                techniques += texts(tech.get("id"))
                subs = tech.get("subtechnique") or []
                techniques += [
                    t for s in subs if isinstance(s, Mapping) for t in texts(s.get("id"))
                ]
    tactics += texts(get(doc, "threat.tactic.id")) + texts(get(doc, "threat.tactic.name"))
    techniques += texts(get(doc, "threat.technique.id"))
    techniques += texts(get(doc, "threat.technique.subtechnique.id"))
    return mitre.resolve(tactics, techniques)


def _action(doc: Mapping[str, Any]) -> str:
    """`Blocked` when the event says it was prevented or denied."""
    words = texts(get(doc, "event.type")) + texts(get(doc, "event.action"))
    blocked = {"denied", "prevented", "blocked", "deny", "block"}
    return "Blocked" if any(w.casefold() in blocked for w in words) else "Detected"


def _ancestor(doc: Mapping[str, Any]) -> str | None:
    """The id of the source event the alert was raised on."""
    ancestors = get(doc, "kibana.alert.ancestors") or get(doc, "signal.ancestors") or []
    first = ancestors[0] if isinstance(ancestors, list) and ancestors else {}
    return text(first.get("id")) if isinstance(first, Mapping) else None


def _entities(
    doc: Mapping[str, Any], hostname: str | None, username: str | None, process: Any
) -> list[dict[str, Any]]:
    """Host, addresses, user, process, file, URL and domain of the alert document."""
    return ent.merged(
        [
            ent.host(
                hostname=hostname,
                os_family=text_at(doc, "host.os.family", "host.os.type"),
                device_id=text_at(doc, "host.id"),
            ),
            *(ent.ip(a) for a in texts(get(doc, "host.ip"))),
            ent.ip(text_at(doc, "source.ip")),
            ent.ip(text_at(doc, "destination.ip")),
            ent.account(
                name=username,
                nt_domain=text_at(doc, "user.domain"),
                upn=text_at(doc, "user.email"),
                sid=_sid(text_at(doc, "user.id")),
            ),
            process,
            ent.file(
                path=text_at(doc, "file.path"),
                name=text_at(doc, "file.name"),
                sha256=text_at(doc, "file.hash.sha256"),
                sha1=text_at(doc, "file.hash.sha1"),
                md5=text_at(doc, "file.hash.md5"),
            ),
            ent.filehash(text_at(doc, "file.hash.sha256"), "SHA256"),
            ent.filehash(text_at(doc, "process.hash.sha256"), "SHA256"),
            ent.url(text_at(doc, "url.full", "url.original")),
            ent.domain(text_at(doc, "dns.question.name", "destination.domain")),
        ]
    )


def _sid(value: str | None) -> str | None:
    """ECS `user.id` is a SID on Windows (kept) and a numeric uid elsewhere (not a SID)."""
    return value if value and value.upper().startswith("S-1-") else None
