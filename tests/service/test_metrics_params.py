"""The metrics request parameters (pure): defaults, parsing and the errors that name them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from muster.errors import InvalidInput
from muster.sla.metrics_params import (
    Dimension,
    ExportFormat,
    Period,
    Scope,
    export_format,
    metrics_query,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_the_defaults_are_the_last_30_days_of_the_callers_tenant_in_one_group() -> None:
    query = metrics_query(now=NOW)
    assert (query.start, query.end) == (NOW - timedelta(days=30), NOW)
    assert (query.group_by, query.period, query.scope) == ((), Period.DAY, Scope.TENANT)


def test_from_alone_runs_to_now_and_to_alone_looks_back_30_days() -> None:
    assert metrics_query(now=NOW, start="2026-11-01").end == NOW
    assert metrics_query(now=NOW, end="2026-11-01").start == datetime(2026, 10, 2, tzinfo=UTC)


def test_instants_are_utc_whatever_their_spelling() -> None:
    query = metrics_query(now=NOW, start="2026-11-01T02:00:00+02:00", end="2026-11-02T00:00:00")
    assert query.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert query.end == datetime(2026, 11, 2, tzinfo=UTC)
    assert query.start.tzinfo is UTC and query.end.tzinfo is UTC


def test_group_by_keeps_the_order_given_and_ignores_blanks() -> None:
    query = metrics_query(now=NOW, group_by=" period, ,severity ", period="week")
    assert query.group_by == (Dimension.PERIOD, Dimension.SEVERITY)
    assert query.period is Period.WEEK


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"start": "soon"}, "from", "metrics.invalid_parameter"),
        ({"end": "2026-02-30"}, "to", "metrics.invalid_parameter"),
        ({"start": "2026-11-24T12:00:00Z"}, "from", "metrics.invalid_window"),
        ({"start": "2010-01-01"}, "from", "metrics.invalid_window"),
        ({"group_by": "severity,Severity"}, "groupBy", "metrics.invalid_parameter"),
        ({"group_by": "severity,severity"}, "groupBy", "metrics.invalid_parameter"),
        ({"period": "quarter"}, "period", "metrics.invalid_parameter"),
        ({"scope": "global"}, "scope", "metrics.invalid_parameter"),
    ],
)
def test_a_bad_value_names_its_parameter(params: dict[str, str], field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        metrics_query(now=NOW, **params)
    assert raised.value.errors == [{"field": field, "message": raised.value.errors[0]["message"]}]
    assert raised.value.code == code


@pytest.mark.parametrize(
    ("value", "accept", "expected"),
    [
        (None, None, ExportFormat.JSON),
        (None, "application/json", ExportFormat.JSON),
        (None, "text/csv", ExportFormat.CSV),
        (None, "application/json, text/csv;q=0.5", ExportFormat.CSV),
        ("json", "text/csv", ExportFormat.JSON),
        ("csv", "application/json", ExportFormat.CSV),
    ],
)
def test_format_wins_over_accept(
    value: str | None, accept: str | None, expected: ExportFormat
) -> None:
    assert export_format(value, accept) is expected


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        export_format("xlsx", None)
    assert raised.value.errors[0]["field"] == "format"
