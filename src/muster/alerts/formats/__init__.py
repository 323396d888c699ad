"""Alert formats of detection products, each a pure mapping to muster's AlertIn JSON.

One module per format (`sentinel`, `sentinel_api`, `wazuh`, `suricata`, `elastic`, `ocsf`,
`muster`) with `looks_like(record)` and `to_alert(record)`; `registry` names them and detects
them. A mapper raises `Unmappable(field)` for a record it cannot map. docs/sources.md has the
mapping tables.
"""

from muster.alerts.formats.records import Unmappable
from muster.alerts.formats.registry import FORMATS, MUSTER, Mapper, detect, mapper

__all__ = ["FORMATS", "MUSTER", "Mapper", "Unmappable", "detect", "mapper"]
