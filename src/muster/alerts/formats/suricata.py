"""Suricata EVE `event_type: alert` records -> AlertIn.

Suricata's `alert.severity` is 1 (highest) .. 3 (lowest): 1 -> High, 2 -> Medium, 3 -> Low,
4 and beyond -> Informational. EVE has no alert id, so `externalId` stays empty and a
re-sent record is recognised by its content (the same record is the same alert). Rules
carrying MITRE metadata (ET's `mitre_tactic_id`, `mitre_technique_id`) fill the MITRE fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muster.alerts.formats import entities as ent
from muster.alerts.formats import mitre
from muster.alerts.formats.records import finish, get, port, require, text, text_at, texts, time_at

__all__ = ["looks_like", "severity", "to_alert"]


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for an EVE alert event."""
    return record.get("event_type") == "alert" and isinstance(record.get("alert"), Mapping)


def severity(value: Any) -> int:
    """muster severity of a Suricata priority (1 highest); 0 when there is none."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 0
    return {1: 4, 2: 3, 3: 2}.get(number, 1 if number > 3 else 0)


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert an EVE alert event describes, with the event verbatim in `raw`."""
    signature = require(record, "alert.signature")
    meta = get(record, "alert.metadata") or {}
    attack = mitre.resolve(
        texts(get(meta, "mitre_tactic_id")) + texts(get(meta, "mitre_tactic_name")),
        texts(get(meta, "mitre_technique_id")),
    )
    site = text_at(record, "http.hostname", "tls.sni")
    address = _http_url(record, site)
    src_ip, dest_ip = text(record.get("src_ip")), text(record.get("dest_ip"))
    action = (text(get(record, "alert.action")) or "").casefold()
    return finish(
        {
            "ruleName": signature,
            "description": signature,
            "source": "Suricata",
            "severity": severity(get(record, "alert.severity")),
            "category": text(get(record, "alert.category")),
            "action": "Blocked" if action in ("blocked", "drop", "reject") else "Detected",
            "srcIp": src_ip,
            "srcPort": port(record.get("src_port")),
            "destIp": dest_ip,
            "destPort": port(record.get("dest_port")),
            "destHostname": site,
            "mitreTactic": attack.tactic,
            "mitreTechnique": attack.technique,
            "tags": attack.tags,
            "rawEventDataset": "suricata.eve",
            "rawEventId": text(record.get("flow_id")),
            "entities": ent.merged(
                [
                    ent.ip(src_ip),
                    ent.ip(dest_ip),
                    ent.domain(site),
                    ent.domain(text_at(record, "dns.rrname", "dns.query.rrname")),
                    ent.url(address),
                    ent.file(
                        name=text_at(record, "fileinfo.filename"),
                        sha256=text_at(record, "fileinfo.sha256"),
                        md5=text_at(record, "fileinfo.md5"),
                    ),
                    ent.filehash(text_at(record, "fileinfo.sha256"), "SHA256"),
                ]
            ),
            "createdAt": time_at(record, "timestamp"),
            "raw": record,
        }
    )


def _http_url(record: Mapping[str, Any], site: str | None) -> str | None:
    """The URL an HTTP alert requested (`http://host/path`), when the host is known."""
    path = text_at(record, "http.url")
    if path is None or site is None or not get(record, "http.hostname"):
        return None
    return path if "://" in path else f"http://{site}{path if path.startswith('/') else '/' + path}"
