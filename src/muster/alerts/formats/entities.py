"""muster entities: `{"type": t, "value": v, ...camelCase attributes}`, built the same way for
every format.

The value is the most specific identifier: an account's UPN when known (else `DOMAIN\\name`),
a host's FQDN when known, an address, a hash, a URL, a file's full path. Attributes that are
unknown are left out. `merged` drops repeats (same type and value, case-insensitively) and
keeps the attributes of all of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from muster.alerts.formats.records import text

__all__ = [
    "account",
    "cloudapp",
    "domain",
    "file",
    "filehash",
    "host",
    "ip",
    "mailbox",
    "merged",
    "other",
    "process",
    "registry",
    "url",
]

Entity = dict[str, Any]
MAX_VALUE = 512  # the length of an entity value muster stores
_HASH_LENGTHS = {32: "MD5", 40: "SHA1", 64: "SHA256"}


def _entity(entity_type: str, value: str | None, **attributes: Any) -> Entity | None:
    """One entity, or None when it has no value; empty attributes are left out."""
    if value is None:
        return None
    entity: Entity = {"type": entity_type, "value": value[:MAX_VALUE]}
    for name, attribute in attributes.items():
        if attribute is not None and attribute != "":
            entity[name] = attribute
    return entity


def account(
    *,
    upn: Any = None,
    name: Any = None,
    nt_domain: Any = None,
    sid: Any = None,
    aad_user_id: Any = None,
    display_name: Any = None,
) -> Entity | None:
    """An account; value = UPN, else DOMAIN\\name, else name, SID, Entra id, display name."""
    upn, name, nt_domain = text(upn), text(name), text(nt_domain)
    sid, aad_user_id, display_name = text(sid), text(aad_user_id), text(display_name)
    qualified = f"{nt_domain}\\{name}" if nt_domain and name else None
    value = upn or qualified or name or sid or aad_user_id or display_name
    return _entity(
        "account",
        value,
        upn=upn,
        name=name,
        ntDomain=nt_domain,
        sid=sid,
        aadUserId=aad_user_id,
        displayName=display_name,
    )


def host(
    *,
    hostname: Any = None,
    fqdn: Any = None,
    dns_domain: Any = None,
    netbios: Any = None,
    os_family: Any = None,
    device_id: Any = None,
) -> Entity | None:
    """A host; value = FQDN (given, or hostname.dnsDomain), else hostname, NetBIOS name."""
    hostname, fqdn, dns_domain = text(hostname), text(fqdn), text(dns_domain)
    if fqdn is None and hostname and dns_domain and "." not in hostname:
        fqdn = f"{hostname}.{dns_domain}"
    if fqdn is None and hostname and "." in hostname and not _is_address(hostname):
        fqdn = hostname
    return _entity(
        "host",
        fqdn or hostname or text(netbios),
        hostname=hostname.split(".")[0] if hostname and not _is_address(hostname) else hostname,
        fqdn=fqdn,
        dnsDomain=dns_domain,
        netBiosName=text(netbios),
        osFamily=text(os_family),
        deviceId=text(device_id),
    )


def ip(address: Any) -> Entity | None:
    """An IP address."""
    return _entity("ip", text(address))


def file(
    *,
    name: Any = None,
    directory: Any = None,
    sha256: Any = None,
    sha1: Any = None,
    md5: Any = None,
    path: Any = None,
) -> Entity | None:
    """A file; value = its full path, else its name, else its strongest hash."""
    name, directory, path = text(name), text(directory), text(path)
    if path is None and name and directory:
        sep = "\\" if "\\" in directory else "/"
        path = directory.rstrip("\\/") + sep + name
    if path and name is None:
        name = path.replace("\\", "/").rsplit("/", 1)[-1] or None
    sha256, sha1, md5 = text(sha256), text(sha1), text(md5)
    return _entity(
        "file",
        path or name or sha256 or sha1 or md5,
        name=name,
        directory=directory,
        sha256=sha256,
        sha1=sha1,
        md5=md5,
    )


def filehash(value: Any, algorithm: Any = None) -> Entity | None:
    """A file hash; the algorithm is MD5, SHA1 or SHA256 (guessed from the length if absent)."""
    digest = text(value)
    if digest is None:
        return None
    named = (text(algorithm) or "").upper().replace("-", "")
    return _entity("filehash", digest.lower(), algorithm=named or _HASH_LENGTHS.get(len(digest)))


def process(
    *,
    command_line: Any = None,
    process_id: Any = None,
    image: Any = None,
    name: Any = None,
) -> Entity | None:
    """A process; value = image path, else name, else command line."""
    command_line, image, name = text(command_line), text(image), text(name)
    if name is None and image:
        name = image.replace("\\", "/").rsplit("/", 1)[-1] or None
    return _entity(
        "process",
        image or name or command_line,
        commandLine=command_line,
        processId=text(process_id),
        image=image,
        name=name,
    )


def url(address: Any) -> Entity | None:
    """A URL."""
    return _entity("url", text(address))


def mailbox(address: Any, display_name: Any = None) -> Entity | None:
    """A mailbox (its primary address)."""
    return _entity("mailbox", text(address), displayName=text(display_name))


def domain(name: Any) -> Entity | None:
    """A DNS domain name."""
    found = text(name)
    return _entity("domain", found.rstrip(".").lower() if found else None)


def registry(key: Any, value_name: Any = None, value_data: Any = None) -> Entity | None:
    """A registry key, or one value of it (value = key\\valueName)."""
    key, value_name = text(key), text(value_name)
    shown = f"{key}\\{value_name}" if key and value_name else key
    return _entity("registry", shown, key=key, valueName=value_name, valueData=text(value_data))


def cloudapp(name: Any = None, app_id: Any = None) -> Entity | None:
    """A cloud application; value = its name, else its id."""
    name, app_id = text(name), text(app_id)
    return _entity("cloudapp", name or app_id, appId=app_id, name=name)


def other(kind: str, value: Any, **attributes: Any) -> Entity | None:
    """Anything else the source names, with its own kind (e.g. `azure-resource`)."""
    return _entity("other", text(value), kind=kind, **attributes)


def merged(entities: Iterable[Entity | None]) -> list[Entity]:
    """The entities without repeats, first seen first; repeats add missing attributes."""
    seen: dict[tuple[str, str], Entity] = {}
    for entity in entities:
        if entity is None:
            continue
        key = (entity["type"], str(entity["value"]).casefold())
        if key in seen:
            for name, value in entity.items():
                seen[key].setdefault(name, value)
        else:
            seen[key] = dict(entity)
    return list(seen.values())


def _is_address(value: str) -> bool:
    """True for an IPv4 or IPv6 address (which is not a host name)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
