"""Wazuh `alerts.json` records (3.x and 4.x) -> AlertIn.

`rule.level` (0..15) is mapped as Wazuh's own dashboard bands it: 0..3 Informational,
4..6 Low, 7..11 Medium, 12..15 High. The host is the one the log line came from
(`predecoder.hostname`), else the agent's name; `data.dstip` may carry `:port`. Windows
event-channel fields (`data.win.*`) and file-integrity fields (`syscheck.*`) fill the process,
account and file details when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import entities as ent
from muster.alerts.formats import mitre
from muster.alerts.formats.records import (
    finish,
    get,
    port,
    require,
    split_address,
    text,
    text_at,
    texts,
    time_at,
)

__all__ = ["looks_like", "severity", "to_alert"]


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for a Wazuh alert: a `rule` with a level, from an agent or manager."""
    rule = record.get("rule")
    return (
        isinstance(rule, Mapping) and "level" in rule and ("agent" in record or "manager" in record)
    )


def severity(level: Any) -> int:
    """muster severity of a Wazuh rule level (0 when there is none)."""
    try:
        number = int(level)
    except (TypeError, ValueError):
        return 0
    if number >= 12:
        return 4
    if number >= 7:
        return 3
    if number >= 4:
        return 2
    return 1


def _user(value: str | None) -> str | None:
    """Wazuh decoders keep brackets around some names (`<giovanni>`)."""
    return value.strip("<>").strip() or None if value else None


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert a Wazuh record describes, with the record verbatim in `raw`."""
    rule_name = require(record, "rule.description")
    data = record.get("data") if isinstance(record.get("data"), Mapping) else {}
    win = get(data, "win.eventdata") or {}
    hostname = text_at(record, "predecoder.hostname", "data.win.system.computer", "agent.name")
    src_ip, src_port = split_address(text_at(data, "srcip", "src_ip"))
    dest_ip, dest_port = split_address(text_at(data, "dstip", "dest_ip"))
    username = _user(
        text_at(data, "dstuser", "srcuser", "win.eventdata.targetUserName")
        or text_at(data, "win.eventdata.subjectUserName")
    )
    attack = mitre.resolve(
        texts(get(record, "rule.mitre.tactic")),
        texts(get(record, "rule.mitre.id")) or texts(get(record, "rule.mitre.technique")),
    )
    process = ent.process(
        command_line=get(win, "commandLine"),
        process_id=get(win, "processId"),
        image=get(win, "image"),
    )
    hashes = _hashes(text(get(win, "hashes")))
    return finish(
        {
            "ruleName": rule_name,
            "description": text(record.get("full_log")),
            "source": "Wazuh",
            "externalId": text(record.get("id")),
            "severity": severity(get(record, "rule.level")),
            "category": ", ".join(texts(get(record, "rule.groups"))),
            "hostname": hostname,
            "srcIp": src_ip,
            "srcPort": port(text_at(data, "srcport", "src_port")) or src_port,
            "destIp": dest_ip,
            "destPort": port(text_at(data, "dstport", "dest_port")) or dest_port,
            "username": username,
            "initiatedBy": (process or {}).get("name"),
            "initiatorPath": (process or {}).get("image"),
            "initiatorCmd": (process or {}).get("commandLine"),
            "initiatorHash": hashes.get("SHA256") or hashes.get("SHA1") or hashes.get("MD5"),
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": attack.tags,
            "rawEventDataset": text(record.get("location")),
            "rawEventId": text_at(record, "rule.id"),
            "entities": ent.merged(
                [
                    ent.host(hostname=hostname),
                    ent.ip(src_ip),
                    ent.ip(dest_ip),
                    ent.account(name=username),
                    ent.account(name=_user(text_at(data, "srcuser"))),
                    process,
                    *_syscheck(record),
                    *(ent.filehash(v, k) for k, v in hashes.items()),
                ]
            ),
            "createdAt": time_at(record, "timestamp", "@timestamp"),
            "raw": record,
        }
    )


def _hashes(value: str | None) -> dict[str, str]:
    """Sysmon's `SHA1=...,MD5=...,SHA256=...` as {algorithm: digest}."""
    found: dict[str, str] = {}
    for part in (value or "").split(","):
        name, sep, digest = part.partition("=")
        if sep and name.strip().upper() in ("MD5", "SHA1", "SHA256") and digest.strip():
            found[name.strip().upper()] = digest.strip().lower()
    return found


def _syscheck(record: Mapping[str, Any]) -> list[dict[str, Any] | None]:
    """The file a file-integrity alert is about, with its hashes after the change."""
    path = text_at(record, "syscheck.path")
    if path is None:
        return []
    sha256 = text_at(record, "syscheck.sha256_after")
    return [
        ent.file(
            path=path,
            sha256=sha256,
            sha1=text_at(record, "syscheck.sha1_after"),
            md5=text_at(record, "syscheck.md5_after"),
        ),
        ent.filehash(sha256, "SHA256"),
    ]
