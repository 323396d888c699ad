"""Reading vendor records: dotted paths, text, numbers, times, and the error a mapper raises.

Vendor records come flattened (`"kibana.alert.rule.name": ...`), nested (`{"rule": {...}}`) or
mixed; `get` reads a dotted path through any of these. Nothing here touches a clock: a record
without an event time maps to no `createdAt`, and ingestion uses the time of receipt.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from muster import jsontext

__all__ = [
    "Unmappable",
    "finish",
    "get",
    "json_cell",
    "port",
    "require",
    "split_address",
    "text",
    "text_at",
    "texts",
    "time_at",
    "timestamp",
]

# AlertIn's length limits by JSON name; longer vendor text is clipped rather than refused.
_LIMITS = {
    "ruleName": 65_536,
    "source": 200,
    "externalId": 512,
    "description": 65_536,
    "category": 200,
    "action": 64,
    "hostname": 512,
    "srcHostname": 512,
    "destHostname": 512,
    "srcIp": 64,
    "destIp": 64,
    "username": 512,
    "initiatedBy": 65_536,
    "initiatorPath": 65_536,
    "initiatorCmd": 65_536,
    "initiatorSignature": 65_536,
    "initiatorSigner": 65_536,
    "initiatorHash": 256,
    "rawEventDataset": 200,
    "rawEventId": 512,
}
_MAX_TAGS = 100
_MAX_TAG = 512
_EPOCH_MS_FROM = 100_000_000_000  # epoch numbers above this are milliseconds (after 1973)


class Unmappable(ValueError):
    """The record lacks, or has an unusable, field the format needs; `field` is its path."""

    def __init__(self, field: str, message: str = "is required") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def get(record: Any, path: str) -> Any:
    """The value at a dotted path, through flattened dotted keys and nested objects alike."""
    if not isinstance(record, Mapping):
        return None
    if path in record:
        return record[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in record:
            found = get(record[head], ".".join(parts[cut:]))
            if found is not None:
                return found
    return None


def text(value: Any) -> str | None:
    """A non-empty stripped string for strings and numbers; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, int | float):
        return str(value)
    return None


def text_at(record: Any, *paths: str) -> str | None:
    """The first non-empty text found at any of `paths`, in order."""
    for path in paths:
        found = text(get(record, path))
        if found is not None:
            return found
    return None


def texts(value: Any) -> list[str]:
    """The non-empty strings of a value that is one string or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [t for t in (text(item) for item in items) if t is not None]


def require(record: Any, *paths: str) -> str:
    """The first non-empty text at `paths`, or Unmappable naming the first path."""
    found = text_at(record, *paths)
    if found is None:
        raise Unmappable(paths[0])
    return found


def port(value: Any) -> int | None:
    """A TCP/UDP port from a number or numeric string; None when it is not one."""
    raw = text(value)
    if raw is None:
        return None
    try:
        number = int(float(raw))
    except ValueError:
        return None
    return number if 0 <= number <= 65_535 else None


def split_address(value: str | None) -> tuple[str | None, int | None]:
    """`10.0.0.1:80` -> (`10.0.0.1`, 80); a bare address keeps no port."""
    if value is None:
        return None, None
    try:
        ipaddress.ip_address(value)
        return value, None
    except ValueError:
        pass
    host, sep, tail = value.rpartition(":")
    if sep and port(tail) is not None:
        return host.strip("[]"), port(tail)
    return value, None


def timestamp(value: Any) -> datetime | None:
    """An aware UTC time from ISO-8601 text or epoch seconds/milliseconds; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    raw = text(value)
    if raw is None:
        return None
    if raw.replace(".", "", 1).isdigit():
        return timestamp(float(raw))
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def time_at(record: Any, *paths: str) -> str | None:
    """The first parseable time at `paths`, as ISO-8601 UTC text."""
    for path in paths:
        found = timestamp(get(record, path))
        if found is not None:
            return found.isoformat()
    return None


def json_cell(record: Mapping[str, Any], name: str) -> Any:
    """A cell that holds JSON as text (Log Analytics exports) or as a value already decoded."""
    value = record.get(name)
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return jsontext.loads(value)
    except jsontext.JSONTextError as exc:
        raise Unmappable(name, f"holds no valid JSON: {exc}") from None


def finish(alert: dict[str, Any]) -> dict[str, Any]:
    """Drop empty fields and clip text to what muster stores; the mapping result is final."""
    done: dict[str, Any] = {}
    for name, value in alert.items():
        if value is None or value == "" or value == []:
            continue
        limit = _LIMITS.get(name)
        if limit is not None and isinstance(value, str):
            value = value[:limit]
        done[name] = value
    if "tags" in done:
        done["tags"] = list(dict.fromkeys(t[:_MAX_TAG] for t in done["tags"]))[:_MAX_TAGS]
    return done
