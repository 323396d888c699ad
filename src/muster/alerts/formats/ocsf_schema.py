"""The OCSF schema, shipped offline by `ocsf-json-schema` (every release 1.0.0-rc.2 .. 1.8.0).

Only names are read from it: a class's caption by `class_uid`, a severity caption by
`severity_id`, and observable type captions by `type_id`. A record's `metadata.version`
picks the schema; versions the package does not ship (e.g. the 0.x drafts) use the newest.
Nothing is ever fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

__all__ = ["class_caption", "observable_caption", "schema_version", "severity_caption"]


@cache
def _versions() -> tuple[str, ...]:
    """Packaged versions, oldest first (release candidates before their release)."""
    from ocsf_json_schema import get_packaged_versions  # type: ignore[import-untyped]

    def order(version: str) -> tuple[int, ...]:
        core, _, pre = version.partition("-")
        numbers = tuple(int(p) for p in core.split(".") if p.isdigit())
        pre_number = int(pre.rpartition(".")[2]) if pre.rpartition(".")[2].isdigit() else 0
        return (*numbers, 0 if pre else 1, pre_number)

    return tuple(sorted(get_packaged_versions(), key=order))


def schema_version(declared: Any) -> str:
    """The packaged schema version for a record's `metadata.version` (newest if unknown)."""
    versions = _versions()
    return declared if isinstance(declared, str) and declared in versions else versions[-1]


@cache
def _schema(version: str) -> Mapping[str, Any]:
    """The schema export of one packaged version (imported on first use, then cached)."""
    from ocsf_json_schema import get_ocsf_schema

    loaded: Mapping[str, Any] = get_ocsf_schema(version)
    return loaded


@cache
def _class_captions(version: str) -> Mapping[int, str]:
    classes = _schema(version).get("classes", {})
    return {int(c["uid"]): str(c["caption"]) for c in classes.values() if "uid" in c}


def class_caption(version: str, class_uid: int) -> str | None:
    """`Detection Finding` for 2004 (in that schema version); None for an unknown class."""
    return _class_captions(version).get(class_uid)


@cache
def _enum(version: str, owner: str, attribute: str) -> Mapping[str, str]:
    """Captions of an enum attribute of a class (by uid text) or an object (by name)."""
    schema = _schema(version)
    if owner.isdigit():
        owners = [c for c in schema.get("classes", {}).values() if str(c.get("uid")) == owner]
        found = owners[0] if owners else schema.get("base_event", {})
    else:
        found = schema.get("objects", {}).get(owner, {})
    values = found.get("attributes", {}).get(attribute, {}).get("enum", {})
    return {str(key): str(item.get("caption", "")) for key, item in values.items()}


def severity_caption(version: str, class_uid: int, severity_id: Any) -> str | None:
    """`High` for severity_id 4, `Other` for 99; None when the class has no such id."""
    return _enum(version, str(class_uid), "severity_id").get(str(severity_id))


def observable_caption(version: str, type_id: Any) -> str | None:
    """`IP Address` for observable type_id 2; None when the schema has no such id."""
    return _enum(version, "observable", "type_id").get(str(type_id))
