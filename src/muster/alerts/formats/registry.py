"""Format names, their mappers, and auto-detection.

`detect` tries the formats in a fixed order, each by a cheap look at the record's keys:
muster (`ruleName`), sentinel-api (`kind: SecurityAlert` + `properties`), sentinel
(`SystemAlertId`/`VendorOriginalId` + an alert-name column), elastic (`kibana.alert.*` or
`signal.rule.name`, in any envelope), ocsf (`class_uid` 2001/2004 + `metadata`), suricata
(`event_type: alert` + `alert`), wazuh (`rule.level` + `agent`/`manager`). The first that
matches wins; the rules do not overlap on any of the shared data sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from muster.alerts.formats import (
    elastic,
    muster,
    ocsf,
    sentinel,
    sentinel_api,
    suricata,
    wazuh,
)

__all__ = ["FORMATS", "MUSTER", "Mapper", "detect", "mapper"]

Mapper = Callable[[Mapping[str, Any]], dict[str, Any]]
MUSTER = "muster"

# name -> (looks_like, to_alert), in detection order
_ENTRIES: dict[str, tuple[Callable[[Mapping[str, Any]], bool], Mapper]] = {
    MUSTER: (muster.looks_like, muster.to_alert),
    "sentinel-api": (sentinel_api.looks_like, sentinel_api.to_alert),
    "sentinel": (sentinel.looks_like, sentinel.to_alert),
    "elastic": (elastic.looks_like, elastic.to_alert),
    "ocsf": (ocsf.looks_like, ocsf.to_alert),
    "suricata": (suricata.looks_like, suricata.to_alert),
    "wazuh": (wazuh.looks_like, wazuh.to_alert),
}
FORMATS: tuple[str, ...] = tuple(_ENTRIES)


def mapper(name: str) -> Mapper | None:
    """The `to_alert` of a format by its name; None for a name that is not a format."""
    entry = _ENTRIES.get(name)
    return entry[1] if entry else None


def detect(record: Mapping[str, Any]) -> str | None:
    """The name of the first format the record looks like; None when none does."""
    for name, (looks_like, _) in _ENTRIES.items():
        if looks_like(record):
            return name
    return None
