"""Which entities of an alert can tie it to an incident, normalised to comparable keys. Pure.

Products spell the same thing differently (`VNEVADO-DC.corp.example` and `vnevado-dc`,
`CORP\\alice` and `alice@corp.example`, a URL with and without its scheme), so each kind is
reduced to what names the thing:

- host (host entities, hostname, srcHostname, destHostname): lower case, the first label
  of an FQDN; an IP address given as a host is an `ip`;
- account (account and mailbox entities, username): lower case, without `DOMAIN\\` or
  `@domain`;
- ip (ip entities, srcIp, destIp): the canonical address; unspecified, loopback and
  link-local addresses are skipped;
- filehash (filehash entities, initiatorHash): lower-case hex of 32 to 128 digits;
- domain (domain entities, the host of url entities): lower case, no trailing dot.

Paths, command lines, registry keys, cloud apps and opaque ids do not tie alerts together
(they name programs and services, not the subject of an attack). Placeholders (`-`,
`unknown`, `localhost`, ...) are skipped.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

HOST, ACCOUNT, IP, FILEHASH, DOMAIN = "host", "account", "ip", "filehash", "domain"
KEY_KINDS = (HOST, ACCOUNT, IP, FILEHASH, DOMAIN)

_PLACEHOLDERS = frozenset(
    {"", "-", "--", "n/a", "na", "none", "null", "unknown", "localhost", "(null)", "?"}
)
_HEX = re.compile(r"[0-9a-f]{32,128}")
_DOTTED = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True, slots=True)
class EntityKey:
    """One normalised entity: its kind, its value and the digest the index stores."""

    kind: str
    value: str
    key: str


@functools.lru_cache(maxsize=65_536)
def entity_key(kind: str, value: str) -> EntityKey | None:
    """The normalised key of a muster entity (type, value), or None when it cannot tie
    alerts together (a kind that names no subject, a placeholder, a malformed value).
    Cached: hosts, accounts and addresses repeat all day."""
    normalised = _normalise(kind, value.strip())
    if normalised is None:
        return None
    key_kind, key_value = normalised
    return EntityKey(key_kind, key_value, _digest(key_kind, key_value))


def alert_keys(named: Iterable[tuple[str, str, Mapping[str, Any]]]) -> tuple[EntityKey, ...]:
    """The distinct keys of what an alert names (`muster.alerts.entities.named_entities`),
    in the order first named."""
    seen: dict[str, EntityKey] = {}
    for kind, value, _ in named:
        found = entity_key(kind, value)
        if found is not None and found.key not in seen:
            seen[found.key] = found
    return tuple(seen.values())


def primary_subject(row: Mapping[str, Any], keys: Iterable[EntityKey]) -> str | None:
    """The key of what an alert (a snake_case row) is about: its `hostname`, else its
    `username`, else the first host or account it names (`subject_of`)."""
    for kind, name in ((HOST, "hostname"), (ACCOUNT, "username")):
        value = row.get(name)
        found = entity_key(kind, str(value)) if value else None
        if found is not None:
            return found.key
    return subject_of(keys)


def subject_of(keys: Iterable[EntityKey]) -> str | None:
    """The key of what an alert is about: its first host, else its first account, else None."""
    accounts = None
    for key in keys:
        if key.kind == HOST:
            return key.key
        if key.kind == ACCOUNT and accounts is None:
            accounts = key.key
    return accounts


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x1f{value}".encode()).hexdigest()[:32]


def _normalise(kind: str, value: str) -> tuple[str, str] | None:
    lowered = value.lower()
    if lowered in _PLACEHOLDERS or len(lowered) > 1024:
        return None
    if kind == HOST:
        address = _address(lowered) if _maybe_address(lowered) else None
        if address is not None:
            return (IP, address) if address else None
        label = lowered.rstrip(".").split(".", 1)[0]
        return (HOST, label) if label not in _PLACEHOLDERS else None
    if kind in (ACCOUNT, "mailbox"):
        name = lowered.rsplit("\\", 1)[-1].split("@", 1)[0]
        return (ACCOUNT, name) if name not in _PLACEHOLDERS else None
    if kind == IP:
        address = _address(lowered)
        return (IP, address) if address else None
    if kind == FILEHASH:
        return (FILEHASH, lowered) if _HEX.fullmatch(lowered) else None
    if kind == DOMAIN:
        name = lowered.rstrip(".")
        return (DOMAIN, name) if name not in _PLACEHOLDERS else None
    if kind == "url":
        host = _url_host(lowered)
        if not host:
            return None
        address = _address(host)
        if address is not None:
            return (IP, address) if address else None
        return (DOMAIN, host)
    return None


def _maybe_address(text: str) -> bool:
    """Cheap test before parsing: an IP address starts with a digit, or is IPv6."""
    return text[:1].isdigit() or ":" in text


def _address(text: str) -> str | None:
    """The canonical IP address; "" for one that names no machine; None for no address."""
    if _DOTTED.fullmatch(text):  # the common case, without ipaddress's cost
        octets = text.split(".")
        if all(int(o) < 256 and (o == "0" or not o.startswith("0")) for o in octets):
            if octets[0] in ("0", "127") or (octets[0] == "169" and octets[1] == "254"):
                return ""
            return text
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.is_unspecified or address.is_loopback or address.is_link_local:
        return ""
    return str(address)


def _url_host(url: str) -> str | None:
    """The host of a URL, with or without its scheme."""
    try:
        parts = urlsplit(url if "//" in url else f"//{url}")
        host = parts.hostname
    except ValueError:
        return None
    if not host or host in _PLACEHOLDERS:
        return None
    return host.rstrip(".")
