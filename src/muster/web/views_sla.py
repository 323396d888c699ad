"""The SLA dashboard's figures, shaped for the page and its charts (pure).

Each chart gets one JSON document: `labels`, and `series` of `{label, data}` in `unit`.
Durations stay in seconds exactly as `incident_metrics` computed them (the chart script shows
minutes), so the page carries the metrics service's own figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from muster.sla.metrics import MetricsGroup, MetricsReport
from muster.sla.metrics_params import Dimension
from muster.sla.policy import Policy
from muster.web.views_queue import SEVERITY_NAMES


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One severity's targets."""

    severity: int
    severity_name: str
    response: str
    resolution: str


def days_of(start: datetime, end: datetime) -> list[str]:
    """Every UTC day the window touches, as YYYY-MM-DD."""
    first: date = start.date()
    last: date = (end - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def duration_chart(report: MetricsReport, figure: str) -> dict[str, Any]:
    """Median and mean of `figure` (`mtta` or `mttr`) per day of the window, None where no
    incident of that day was measured."""
    by_day: dict[str, MetricsGroup] = {str(g.key[Dimension.PERIOD])[:10]: g for g in report.groups}
    labels = days_of(report.query.start, report.query.end)

    def values(kind: str) -> list[float | None]:
        return [getattr(getattr(by_day[d], figure), kind) if d in by_day else None for d in labels]

    return {
        "kind": "line",
        "unit": "seconds",
        "from": report.query.start.isoformat(),
        "to": report.query.end.isoformat(),
        "labels": labels,
        "series": [
            {"label": f"{figure.upper()} median", "data": values("median")},
            {"label": f"{figure.upper()} mean", "data": values("mean")},
        ],
        "opened": [by_day[d].opened if d in by_day else 0 for d in labels],
    }


def breaches_chart(report: MetricsReport, dimension: Dimension) -> dict[str, Any]:
    """Breached (and opened) incidents per severity or per tenant."""
    labels = [_label(g, dimension) for g in report.groups]
    return {
        "kind": "bar",
        "unit": "incidents",
        "by": dimension.value,
        "from": report.query.start.isoformat(),
        "to": report.query.end.isoformat(),
        "labels": labels,
        "keys": [str(g.key[dimension]) for g in report.groups],
        "series": [
            {"label": "breached", "data": [g.breached for g in report.groups]},
            {"label": "opened", "data": [g.opened for g in report.groups]},
        ],
    }


def _label(group: MetricsGroup, dimension: Dimension) -> str:
    value = group.key[dimension]
    if dimension is Dimension.SEVERITY:
        return SEVERITY_NAMES.get(int(value), f"severity {value}")
    if dimension is Dimension.TENANT:
        return group.tenant_name or str(value)
    return str(value)


def policy_rows(policy: Policy) -> list[PolicyRow]:
    """The policy's targets, most severe first."""
    return [
        PolicyRow(
            severity,
            SEVERITY_NAMES.get(severity, str(severity)),
            _duration(targets.response),
            _duration(targets.resolution),
        )
        for severity, targets in sorted(policy.targets.items(), reverse=True)
    ]


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    parts: Sequence[tuple[str, int]] = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    out = []
    for unit, size in parts:
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(out) or "0s"


def open_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """(state, count) for the open incidents' SLA states the page links to the queue with."""
    return [(state, counts.get(state, 0)) for state in ("at_risk", "breached")]
