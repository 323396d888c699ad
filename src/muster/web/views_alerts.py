"""The alert search as the page shows it: parsed parameters and one row per alert (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from muster.alerts.service import AlertFilter
from muster.errors import InvalidInput
from muster.models import Alert
from muster.web.form_values import FormValues
from muster.web.views_queue import SEVERITY_NAMES

SEARCH_FIELDS = ("filter", "source", "hostname", "username", "severity")
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert in the results."""

    id: uuid.UUID
    created_at: datetime
    severity: int
    severity_name: str
    rule_name: str
    source: str
    hostname: str | None
    username: str | None
    incident_id: uuid.UUID | None


def parse_search(pairs: Iterable[tuple[str, str]]) -> FormValues:
    """Keep the known, non-blank fields (first value wins) and the cursor."""
    values: dict[str, str] = {}
    cursor = None
    for name, value in pairs:
        value = value.strip()
        if name == "cursor" and value:
            cursor = value
        elif name in SEARCH_FIELDS and value and name not in values:
            values[name] = value
    return FormValues(values, cursor)


def to_alert_filter(search: FormValues) -> AlertFilter:
    """The service's filter; a severity outside 0..4 is `InvalidInput`."""
    severity = None
    if search.get("severity"):
        text = search.get("severity")
        if not (text.isascii() and text.isdigit()) or int(text) > 4:  # int() refuses "²"
            raise InvalidInput.field("severity", "must be a number from 0 to 4")
        severity = int(text)
    return AlertFilter(
        source=search.values.get("source"),
        severity=severity,
        hostname=search.values.get("hostname"),
        username=search.values.get("username"),
        filter=search.values.get("filter"),
    )


def alert_row(alert: Alert) -> AlertRow:
    """What the results table shows of an alert."""
    return AlertRow(
        alert.id,
        alert.created_at,
        alert.severity,
        SEVERITY_NAMES.get(alert.severity, "Unspecified"),
        alert.rule_name,
        alert.source,
        alert.hostname,
        alert.username,
        alert.incident_id,
    )
