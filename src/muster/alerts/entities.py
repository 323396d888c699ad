"""What an alert names: its typed entities and the fields that name hosts, users and the rest.

Pure. muster's entity convention is a list of `{"type": t, "value": v, ...attributes}` with
`t` one of `ENTITY_TYPES` (docs/sources.md); the alert fields hostname, srcHostname,
destHostname, username, srcIp, destIp, initiatorCmd, initiatorPath and initiatorHash name
things too. The compatible APIs (muster.compat.entities) and entity-aware grouping read both
through `named_entities`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any, Protocol, cast, get_args

from muster.alerts.schemas import EntityType

ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)  # the types an entity may have


class AlertLike(Protocol):
    """The alert fields entities are derived from (an `Alert` row satisfies it)."""

    id: uuid.UUID
    entities: list[dict[str, Any]]
    hostname: str | None
    src_hostname: str | None
    dest_hostname: str | None
    username: str | None
    src_ip: str | None
    dest_ip: str | None
    initiator_cmd: str | None
    initiator_path: str | None
    initiator_hash: str | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def named_entities(alert: AlertLike) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(muster type, value, attributes) for everything the alert names: its typed
    `entities` first, then the fields that name things; values stripped, blanks skipped."""
    for entity in alert.entities or ():
        if isinstance(entity, Mapping):
            value = _text(entity.get("value"))
            kind = entity.get("type")
            if value is not None and isinstance(kind, str):
                yield kind, value, entity
    for host in (alert.hostname, alert.src_hostname, alert.dest_hostname):
        if _text(host):
            yield "host", str(host).strip(), {}
    if _text(alert.username):
        yield "account", str(alert.username).strip(), {}
    for ip in (alert.src_ip, alert.dest_ip):
        if _text(ip):
            yield "ip", str(ip).strip(), {}
    if _text(alert.initiator_cmd):
        yield "process", str(alert.initiator_cmd).strip(), {}
    if _text(alert.initiator_path):
        yield "file", str(alert.initiator_path).strip(), {}
    if _text(alert.initiator_hash):
        yield "filehash", str(alert.initiator_hash).strip(), {}


_ROW_FIELDS = (
    "entities",
    "hostname",
    "src_hostname",
    "dest_hostname",
    "username",
    "src_ip",
    "dest_ip",
    "initiator_cmd",
    "initiator_path",
    "initiator_hash",
)


def named_entities_of_row(row: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """`named_entities` of an alert given as a snake_case row dict (ingest's rows); a missing
    field counts as empty."""
    view = SimpleNamespace(id=row.get("id"), **{name: row.get(name) for name in _ROW_FIELDS})
    return named_entities(cast(AlertLike, view))
