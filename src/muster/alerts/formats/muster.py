"""muster's own alert shape (the native API's AlertIn JSON): the identity mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["looks_like", "to_alert"]


def looks_like(record: Mapping[str, Any]) -> bool:
    """True for a muster alert object (it names its rule the muster way)."""
    return "ruleName" in record


def to_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record itself (AlertIn validates it); `raw` is the whole record, as for every
    muster-shape alert."""
    return {**record, "raw": record}
