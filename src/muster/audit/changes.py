"""What an administration event says changed (pure): before/after pairs without secrets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# field names whose values are never written to the audit log, whatever the caller passed
_SECRET_NAME = re.compile(
    r"(secret|password|passphrase|token|apikey|keyhash|clientsecret|plaintext)$|^key$",
    re.IGNORECASE,
)
REDACTED = "(redacted)"


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`name -> [before, after]` for every value that differs (absent on one side: None)."""
    names = list(before) + [name for name in after if name not in before]
    return {
        name: [before.get(name), after.get(name)]
        for name in names
        if before.get(name) != after.get(name)
    }


def is_secret_name(name: str) -> bool:
    """True for a field name that holds a credential (`secret`, `password`, `clientSecret`…)."""
    return bool(_SECRET_NAME.search(name.replace("_", "")))


def redact(value: Any) -> Any:
    """`value` with every secret-named field, at any depth, replaced by `REDACTED`."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if is_secret_name(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def tenant_action(changes: Mapping[str, Any]) -> str:
    """`tenant.suspended` / `tenant.resumed` when the suspension changed, else `tenant.updated`."""
    suspended = changes.get("suspended")
    if suspended is None:
        return "tenant.updated"
    return "tenant.resumed" if suspended[1] is None else "tenant.suspended"
