"""What a metrics request asks for: the cohort window, the grouping and the scope (pure).

`metrics_query` turns the raw query parameters of `GET /api/v1/metrics/incidents` into a
`MetricsQuery`, raising `InvalidInput` naming the offending parameter. No database, no clock:
the caller passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from muster.errors import InvalidInput

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=3660)  # ten years: a guard against typos, not a policy

_E = TypeVar("_E", bound=StrEnum)


class Dimension(StrEnum):
    """What incidents can be grouped by (the `groupBy` names)."""

    TENANT = "tenant"
    SEVERITY = "severity"
    SOURCE = "source"
    TACTIC = "tactic"
    ASSIGNEE = "assignee"
    PERIOD = "period"


class Period(StrEnum):
    """Calendar buckets of `createdAt`, in UTC (weeks start on Monday, ISO 8601)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Scope(StrEnum):
    """Whose incidents: the caller's tenant, or every tenant (global admins only)."""

    TENANT = "tenant"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """A validated metrics request: incidents created in [start, end), grouped by `group_by`."""

    start: datetime
    end: datetime
    group_by: tuple[Dimension, ...] = ()
    period: Period = Period.DAY
    scope: Scope = Scope.TENANT


def metrics_query(
    *,
    now: datetime,
    start: str | None = None,
    end: str | None = None,
    group_by: str | None = None,
    period: str | None = None,
    scope: str | None = None,
) -> MetricsQuery:
    """Validate the raw parameters; the window defaults to the 30 days before `now`."""
    end_at = parse_instant("to", end) if end else now
    start_at = parse_instant("from", start) if start else end_at - DEFAULT_WINDOW
    if start_at >= end_at:
        raise InvalidInput.field("from", "must be before `to`", code="metrics.invalid_window")
    if end_at - start_at > MAX_WINDOW:
        raise InvalidInput.field(
            "from", f"the window is at most {MAX_WINDOW.days} days", code="metrics.invalid_window"
        )
    return MetricsQuery(
        start=start_at,
        end=end_at,
        group_by=parse_group_by(group_by),
        period=_choice(Period, "period", period, Period.DAY),
        scope=parse_scope(scope),
    )


def parse_instant(name: str, value: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (no offset: UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput.field(
            name,
            f"{value!r} is not an ISO 8601 date-time (e.g. 2026-11-01T00:00:00Z)",
            code="metrics.invalid_parameter",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_group_by(value: str | None) -> tuple[Dimension, ...]:
    """A comma list of distinct dimensions, in the order given (empty: one total group)."""
    names = [part.strip() for part in (value or "").split(",") if part.strip()]
    out: list[Dimension] = []
    for name in names:
        try:
            dimension = Dimension(name)
        except ValueError:
            raise InvalidInput.field(
                "groupBy",
                f"unknown dimension {name!r}; use any of {', '.join(Dimension)}",
                code="metrics.invalid_parameter",
            ) from None
        if dimension in out:
            raise InvalidInput.field(
                "groupBy", f"{name!r} is named twice", code="metrics.invalid_parameter"
            )
        out.append(dimension)
    return tuple(out)


def _choice(enum: type[_E], name: str, value: str | None, default: _E) -> _E:
    if value is None or not value.strip():
        return default
    try:
        return enum(value.strip())
    except ValueError:
        raise InvalidInput.field(
            name,
            f"unknown value {value!r}; use one of {', '.join(enum)}",
            code="metrics.invalid_parameter",
        ) from None


class ExportFormat(StrEnum):
    """How the figures are answered."""

    JSON = "json"
    CSV = "csv"


def parse_scope(value: str | None) -> Scope:
    """The `scope` parameter (default: the caller's tenant)."""
    return _choice(Scope, "scope", value, Scope.TENANT)


def export_format(value: str | None, accept: str | None) -> ExportFormat:
    """`format` wins; without it, `Accept: text/csv` asks for CSV; JSON otherwise."""
    if value is not None and value.strip():
        return _choice(ExportFormat, "format", value, ExportFormat.JSON)
    media = [part.split(";")[0].strip().lower() for part in (accept or "").split(",")]
    return ExportFormat.CSV if "text/csv" in media else ExportFormat.JSON
