"""Sentinel entities (`SecurityAlert.Entities`, alert `entities` of the REST API) as muster's.

Sentinel writes an entity graph: objects carry `$id`, and later mentions are `{"$ref": id}`;
a process nests its image file, parent process and account, a file nests its hashes. `convert`
resolves the references, visits every typed object once (nested ones too) and maps it by its
`Type` (`account`, `host`, `ip`, `file`, `filehash`, `process`, `url`, `mailbox`, `dns`,
`registry-key`, `registry-value`, `cloud-application`, ...). Kinds muster has no type for become
`other` with their Sentinel kind in `kind`. Field names are read PascalCase (Log Analytics) or
camelCase (REST API) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from muster.alerts.formats import entities as ent
from muster.alerts.formats.records import text

__all__ = ["convert"]

Obj = Mapping[str, Any]


def convert(graph: Any) -> list[dict[str, Any]]:
    """Every entity of a Sentinel entity list, references resolved, repeats merged."""
    if not isinstance(graph, list):
        return []
    index: dict[str, Obj] = {}
    _index(graph, index)
    found: list[dict[str, Any] | None] = []
    for obj in _typed(graph, index, set()):
        kind = str(_f(obj, "Type") or "").strip()
        mapper = _MAPPERS.get(kind.casefold())
        found.extend(mapper(obj, index) if mapper else [_other(kind, obj)])
    return ent.merged(found)


def _f(obj: Obj, name: str) -> Any:
    """A field by its PascalCase name, or its camelCase spelling."""
    if name in obj:
        return obj[name]
    return obj.get(name[:1].lower() + name[1:])


def _index(node: Any, index: dict[str, Obj]) -> None:
    """Record every object that declares a `$id`, however deeply nested."""
    if isinstance(node, list):
        for item in node:
            _index(item, index)
    elif isinstance(node, Mapping):
        if isinstance(node.get("$id"), str):
            index.setdefault(node["$id"], node)
        for value in node.values():
            _index(value, index)


def _resolve(node: Any, index: Mapping[str, Obj]) -> Any:
    """The object a `{"$ref": id}` points at; anything else unchanged."""
    if isinstance(node, Mapping) and set(node) == {"$ref"}:
        return index.get(str(node["$ref"]))
    return node


def _typed(node: Any, index: Mapping[str, Obj], seen: set[int]) -> Iterator[Obj]:
    """Every object with a `Type`, depth first, each once (by identity)."""
    node = _resolve(node, index)
    if isinstance(node, list):
        for item in node:
            yield from _typed(item, index, seen)
    elif isinstance(node, Mapping) and id(node) not in seen:
        seen.add(id(node))
        if _f(node, "Type") is not None:
            yield node
        for key, value in node.items():
            if isinstance(value, Mapping | list) and key not in ("Location", "location"):
                yield from _typed(value, index, seen)


def _account(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    name = text(_f(obj, "Name")) or text(_f(obj, "AccountName"))
    upn = text(_f(obj, "UserPrincipalName"))
    suffix = text(_f(obj, "UPNSuffix")) or text(_f(obj, "UpnSuffix"))
    if upn is None and name and suffix:
        upn = f"{name}@{suffix}"
    return [
        ent.account(
            upn=upn,
            name=name,
            nt_domain=_f(obj, "NTDomain") or _f(obj, "NtDomain"),
            sid=_f(obj, "Sid"),
            aad_user_id=_f(obj, "AadUserId"),
            display_name=_f(obj, "DisplayName"),
        )
    ]


def _host(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [
        ent.host(
            hostname=_f(obj, "HostName"),
            fqdn=_f(obj, "FQDN") or obj.get("fqdn"),
            dns_domain=_f(obj, "DnsDomain"),
            netbios=_f(obj, "NetBiosName"),
            os_family=_f(obj, "OSFamily") or _f(obj, "OsFamily"),
            device_id=_f(obj, "MdatpDeviceId") or _f(obj, "AadDeviceId"),
        )
    ]


def _hashes(obj: Obj, index: Mapping[str, Obj]) -> dict[str, str]:
    """A file's hashes by lower-case algorithm name (`sha256`, `sha1`, `md5`)."""
    found: dict[str, str] = {}
    for item in _f(obj, "FileHashes") or []:
        item = _resolve(item, index)
        if isinstance(item, Mapping):
            algorithm = (text(_f(item, "Algorithm")) or "").casefold().replace("-", "")
            value = text(_f(item, "Value"))
            if algorithm and value:
                found.setdefault(algorithm, value.lower())
    return found


def _file(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    hashes = _hashes(obj, index)
    return [
        ent.file(
            name=_f(obj, "Name"),
            directory=_f(obj, "Directory"),
            sha256=hashes.get("sha256"),
            sha1=hashes.get("sha1"),
            md5=hashes.get("md5"),
        )
    ]


def _filehash(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [ent.filehash(_f(obj, "Value"), _f(obj, "Algorithm"))]


def _process(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    image = _resolve(_f(obj, "ImageFile"), index)
    path = None
    if isinstance(image, Mapping):
        path = (ent.file(name=_f(image, "Name"), directory=_f(image, "Directory")) or {}).get(
            "value"
        )
    return [
        ent.process(
            command_line=_f(obj, "CommandLine"),
            process_id=_f(obj, "ProcessId"),
            image=path,
            name=_f(image, "Name") if isinstance(image, Mapping) else None,
        )
    ]


def _url(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [ent.url(_f(obj, "Url"))]


def _mailbox(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    address = _f(obj, "MailboxPrimaryAddress") or _f(obj, "Upn")
    return [ent.mailbox(address, _f(obj, "DisplayName"))]


def _ip(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [ent.ip(_f(obj, "Address"))]


def _dns(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [ent.domain(_f(obj, "DomainName"))]


def _registry_key(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    hive, key = text(_f(obj, "Hive")), text(_f(obj, "Key"))
    return [ent.registry(f"{hive}\\{key}" if hive and key else key)]


def _registry_value(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    key = _resolve(_f(obj, "Key"), index)
    if isinstance(key, Mapping):
        hive, path = text(_f(key, "Hive")), text(_f(key, "Key"))
        key = f"{hive}\\{path}" if hive and path else path
    return [ent.registry(key, _f(obj, "Name"), _f(obj, "Value"))]


def _cloudapp(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    return [ent.cloudapp(_f(obj, "Name"), _f(obj, "AppId"))]


def _mail_message(obj: Obj, index: Mapping[str, Obj]) -> list[dict[str, Any] | None]:
    message = ent.other(
        "mailMessage",
        _f(obj, "NetworkMessageId") or _f(obj, "InternetMessageId"),
        subject=text(_f(obj, "Subject")),
        sender=text(_f(obj, "Sender")),
        recipient=text(_f(obj, "Recipient")),
    )
    return [message, ent.mailbox(_f(obj, "Recipient")), ent.ip(_f(obj, "SenderIP"))]


_IDS = ("ResourceId", "SessionId", "RequestId", "Name", "Address", "Url", "Value", "Id")


def _other(kind: str, obj: Obj) -> dict[str, Any] | None:
    """A kind muster has no type for: its most telling identifier, with the Sentinel kind."""
    value = next((text(_f(obj, key)) for key in _IDS if text(_f(obj, key))), None)
    return ent.other(kind or "unknown", value)


_MAPPERS: dict[str, Callable[[Obj, Mapping[str, Obj]], list[dict[str, Any] | None]]] = {
    "account": _account,
    "host": _host,
    "ip": _ip,
    "file": _file,
    "filehash": _filehash,
    "process": _process,
    "url": _url,
    "mailbox": _mailbox,
    "dns": _dns,
    "registry-key": _registry_key,
    "registry-value": _registry_value,
    "cloud-application": _cloudapp,
    "mailmessage": _mail_message,
    # the REST API's entity kinds
    "cloudapplication": _cloudapp,
    "registrykey": _registry_key,
    "registryvalue": _registry_value,
    "dnsresolution": _dns,
}
