"""API shapes of the incident metrics, as JSON (`MetricsRead`) and as CSV (`metrics_csv`)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import Field

from muster.schema_base import ReadModel
from muster.sla.metrics import DurationFigures, MetricsGroup, MetricsReport
from muster.sla.metrics_params import Dimension, Period, Scope

# the API name of each dimension's key value (tenant also gets tenantName)
KEY_NAMES = {
    Dimension.TENANT: "tenantId",
    Dimension.SEVERITY: "severity",
    Dimension.SOURCE: "source",
    Dimension.TACTIC: "tactic",
    Dimension.ASSIGNEE: "assignee",
    Dimension.PERIOD: "period",
}
FIGURE_COLUMNS = (
    "opened",
    "resolved",
    "breached",
    "excluded",
    "mttaMedianSeconds",
    "mttaMeanSeconds",
    "mttaP90Seconds",
    "mttrMedianSeconds",
    "mttrMeanSeconds",
    "mttrP90Seconds",
    "withinSlaPercent",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class MetricsKey(ReadModel):
    """The group: only the dimensions asked for in `groupBy` appear."""

    tenant_id: uuid.UUID | None = None
    tenant_name: str | None = None
    severity: int | None = None
    source: str | None = None
    tactic: str | None = None
    assignee: str | None = Field(None, description="an e-mail, SOAR, or null (unassigned)")
    period: str | None = Field(None, description="first day of the UTC day/week/month")


class DurationRead(ReadModel):
    """Seconds: median and p90 by nearest rank, mean; null when no incident reached it."""

    median: float | None
    mean: float | None
    p90: float | None


class MetricsGroupRead(ReadModel):
    """The figures of one group (definitions in docs/metrics.md)."""

    key: MetricsKey
    opened: int = Field(description="incidents of the cohort, excludeFromSLA ones left out")
    resolved: int
    breached: int = Field(description="incidents with at least one target breached")
    excluded: int = Field(description="excludeFromSLA incidents (counted here only)")
    mtta_seconds: DurationRead
    mttr_seconds: DurationRead
    within_sla_percent: float | None = Field(
        description="incidents whose targets with an outcome were all met, over incidents "
        "with at least one outcome, x100; null when none has an outcome"
    )


class MetricsRead(ReadModel):
    """Incidents created in [from, to), grouped; figures as of `generatedAt`."""

    from_: datetime = Field(alias="from")
    to: datetime
    scope: Scope
    group_by: list[Dimension]
    period: Period | None = Field(description="the bucket size when grouping by period")
    generated_at: datetime
    groups: list[MetricsGroupRead]


def to_read(report: MetricsReport) -> MetricsRead:
    """The JSON answer (build it with `response_model_exclude_unset`: keys show only groupBy)."""
    query = report.query
    return MetricsRead.model_validate(
        {
            "from": query.start,
            "to": query.end,
            "scope": query.scope,
            "group_by": list(query.group_by),
            "period": query.period if Dimension.PERIOD in query.group_by else None,
            "generated_at": report.generated_at,
            "groups": [_group_read(g) for g in report.groups],
        }
    )


def _group_read(group: MetricsGroup) -> MetricsGroupRead:
    return MetricsGroupRead(
        key=MetricsKey.model_validate(_key_fields(group)),
        opened=group.opened,
        resolved=group.resolved,
        breached=group.breached,
        excluded=group.excluded,
        mtta_seconds=_duration(group.mtta),
        mttr_seconds=_duration(group.mttr),
        within_sla_percent=group.within_sla_percent,
    )


def _duration(figures: DurationFigures) -> DurationRead:
    return DurationRead(median=figures.median, mean=figures.mean, p90=figures.p90)


def _key_fields(group: MetricsGroup) -> dict[str, Any]:
    """The key by API name, in groupBy order (tenantName right after tenantId)."""
    fields: dict[str, Any] = {}
    for dimension, value in group.key.items():
        fields[KEY_NAMES[dimension]] = value
        if dimension is Dimension.TENANT:
            fields["tenantName"] = group.tenant_name
    return fields


def csv_columns(group_by: tuple[Dimension, ...]) -> list[str]:
    """The CSV header: the key columns in groupBy order, then the figures."""
    keys: list[str] = []
    for dimension in group_by:
        keys.append(KEY_NAMES[dimension])
        if dimension is Dimension.TENANT:
            keys.append("tenantName")
    return keys + list(FIGURE_COLUMNS)


def metrics_csv(report: MetricsReport) -> str:
    """RFC 4180 CSV: a header row, then one row per group (empty cell = null)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_columns(report.query.group_by))
    writer.writerows(_csv_rows(report))
    return out.getvalue()


def _csv_rows(report: MetricsReport) -> Iterator[list[str]]:
    for group in report.groups:
        keys = [_text_cell(v) for v in _key_fields(group).values()]
        figures: list[Any] = [group.opened, group.resolved, group.breached, group.excluded]
        for duration in (group.mtta, group.mttr):
            figures += [duration.median, duration.mean, duration.p90]
        figures.append(group.within_sla_percent)
        yield keys + ["" if v is None else str(v) for v in figures]


def _text_cell(value: Any) -> str:
    """A key cell; text that a spreadsheet would run as a formula is quoted with `'`."""
    if value is None:
        return ""
    cell = str(value)
    return f"'{cell}" if isinstance(value, str) and cell.startswith(_FORMULA_START) else cell
