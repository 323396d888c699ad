"""The incident metrics statement: one aggregate SQL statement per request, per dialect.

Every figure is computed by the database. Per incident of the cohort (created in
[start, end), tenant-bound unless scope=all) the statement derives:

- `tta` / `ttr`: responded_at - created_at / resolved_at - created_at in whole milliseconds
  (each timestamp rounded to the millisecond; NULL when not reached or excludeFromSLA);
- `st`: the SLA state of its targets as of `now` (NULL excluded, 2 breached, 1 all targets
  with an outcome met, 0 no outcome yet; see docs/metrics.md);

then per group (one `GROUP BY`): counts, sums, and the nearest-rank p50 / p90 (the
ceil(p*n)-th smallest). PostgreSQL has that quantile as `percentile_disc`. SQLite (3.40 has
no percentile aggregate) gets it from `muster_p50_p90`, an aggregate registered on every
connection (`muster.db.sqlite_functions`) that returns both quantiles of both durations in
one pass as JSON text, taken apart with `json_extract`; it ranks with the same integer
arithmetic, so both dialects pick the same value. Durations in seconds and the percentage
are computed in SQL too.

The statement is Core text over a whitelist of fragments, so it bypasses the ORM tenancy
hooks: the tenant filter is bound explicitly (`tenant_id = :tenant_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Executable, Uuid, bindparam, text

from muster.db.types import UTCDateTime
from muster.sla.metrics_params import Dimension, MetricsQuery, Period

# the incident column each plain dimension groups by
_COLUMNS = {
    Dimension.TENANT: "tenant_id",
    Dimension.SEVERITY: "severity",
    Dimension.SOURCE: "source",
    Dimension.TACTIC: "mitre_tactic",
    Dimension.ASSIGNEE: "assignee",
}
# SQLite: calendar buckets of created_at (UTC text) as integers, which sort and compare
# faster than text: a day number of the bucket's first day (julianday of its midnight,
# truncated; of the date part only: julianday rounds 23:59:59.9999 up to the next day), or
# year * 12 + month - 1; turned into 'YYYY-MM-DD' only for the answer
_SQLITE_DAY = "CAST(julianday(substr(created_at, 1, 10)) AS INTEGER)"
_SQLITE_WEEK = "{d} - ({d} + 1) % 7"  # the day number of the Monday of day number d
_SQLITE_MONTH = (
    "CAST(substr(created_at, 1, 4) AS INTEGER) * 12 + CAST(substr(created_at, 6, 2) AS INTEGER) - 1"
)
_SQLITE_PERIOD_TEXT = {
    Period.DAY: "date({} + 0.5)",
    Period.WEEK: "date({} + 0.5)",
    Period.MONTH: "printf('%04d-%02d-01', {0} / 12, {0} % 12 + 1)",
}
_PG_PERIOD = "to_char(date_trunc('{unit}', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"

# the SLA rules of docs/sla.md: the response target is achieved at respondedAt or, when
# nobody responded, at resolvedAt; NULL due = no target (no outcome, never breached)
_STATE = """CASE WHEN exclude_from_sla THEN NULL
      WHEN coalesce(responded_at, resolved_at, :now) > response_due_at
        OR coalesce(resolved_at, :now) > resolution_due_at THEN 2
      WHEN response_due_at IS NOT NULL
          AND (responded_at IS NOT NULL OR resolved_at IS NOT NULL OR response_due_at < :now)
        OR resolution_due_at IS NOT NULL AND (resolved_at IS NOT NULL OR resolution_due_at < :now)
        THEN 1
      ELSE 0 END"""


@dataclass(frozen=True, slots=True)
class MetricsStatement:
    """The statement, its parameters, and the names of its group key columns."""

    statement: Executable
    params: dict[str, Any]
    keys: tuple[Dimension, ...]


def metrics_statement(
    dialect: str, query: MetricsQuery, tenant_id: uuid.UUID | None, now: datetime
) -> MetricsStatement:
    """The statement for `query`; `tenant_id` None means every tenant (scope=all)."""
    keys = query.group_by
    names = [f"g{i}" for i in range(len(keys))]
    # Core text is not tenant-scoped by the session: bind the tenant explicitly.
    where = "tenant_id = :tenant_id AND " if tenant_id is not None else ""
    where += "created_at >= :start AND created_at < :end"
    if dialect == "sqlite":
        sql = _sqlite(keys, names, query.period, where)
    else:
        groups = [_pg_group_expression(d, query.period) for d in keys]
        sql = _postgresql(groups, names, where)
    binds: list[BindParameter[Any]] = [
        bindparam("start", type_=UTCDateTime()),
        bindparam("end", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    ]
    params: dict[str, Any] = {"start": query.start, "end": query.end, "now": now}
    if tenant_id is not None:
        binds.append(bindparam("tenant_id", type_=Uuid()))
        params["tenant_id"] = tenant_id
    clause = text(sql).bindparams(*binds)
    statement: Executable = clause
    if Dimension.TENANT in keys:  # SQLite returns the uuid as hex text: type the column
        statement = clause.columns(**{names[keys.index(Dimension.TENANT)]: Uuid()})
    return MetricsStatement(statement, params, keys)


def _pg_group_expression(dimension: Dimension, period: Period) -> str:
    if dimension is not Dimension.PERIOD:
        return _COLUMNS[dimension]
    return _PG_PERIOD.format(unit=period.value)


def _pg_duration(column: str) -> str:
    """`column - created_at` in whole milliseconds (NULL when `column` is NULL or excluded);
    date_part is float8 (extract's numeric costs far more); same rounding per timestamp."""
    ms = (
        f"CAST(round(date_part('epoch', {column}) * 1000)"
        " - round(date_part('epoch', created_at) * 1000) AS bigint)"
    )
    return f"CASE WHEN exclude_from_sla THEN NULL ELSE {ms} END"


def _pg_facts(groups: Sequence[str], names: Sequence[str], where: str) -> str:
    """One narrow row per cohort incident: group keys, excluded flag, durations, SLA state."""
    selected = "".join(f"{expr} AS {name}, " for expr, name in zip(groups, names, strict=True))
    return (
        f"SELECT {selected}CAST(exclude_from_sla AS INTEGER) AS excl,"
        f" {_pg_duration('responded_at')} AS tta, {_pg_duration('resolved_at')} AS ttr,"
        f" {_STATE} AS st FROM incidents WHERE {where}"
    )


_COUNTS = (
    "count(*) - coalesce(sum(excl), 0) AS opened, coalesce(sum(excl), 0) AS excluded,"
    " count(ttr) AS resolved, coalesce(sum(st >> 1), 0) AS breached,"
    " coalesce(sum(st & 1), 0) AS within,"
    " sum(tta) AS tta_sum, count(tta) AS tta_n, sum(ttr) AS ttr_sum, count(ttr) AS ttr_n"
)


def _figures(real: str, source: str, medians: Sequence[str]) -> str:
    """The output figures from counts/sums in `source` and the four quantiles (ms)."""
    tta50, tta90, ttr50, ttr90 = medians
    return (
        f"{source}.opened, {source}.excluded, {source}.resolved, {source}.breached,"
        f" {source}.within,"
        f" CAST({tta50} AS {real}) / 1000 AS tta_median,"
        f" CAST({source}.tta_sum AS {real}) / nullif({source}.tta_n, 0) / 1000 AS tta_mean,"
        f" CAST({tta90} AS {real}) / 1000 AS tta_p90,"
        f" CAST({ttr50} AS {real}) / 1000 AS ttr_median,"
        f" CAST({source}.ttr_sum AS {real}) / nullif({source}.ttr_n, 0) / 1000 AS ttr_mean,"
        f" CAST({ttr90} AS {real}) / 1000 AS ttr_p90,"
        f" CAST(100 * {source}.within AS {real})"
        f" / nullif({source}.within + {source}.breached, 0) AS within_percent"
    )


def _postgresql(groups: Sequence[str], names: Sequence[str], where: str) -> str:
    """One GROUP BY with `percentile_disc` (nearest rank) over the facts."""
    keys = ", ".join(names)
    group_by = f" GROUP BY {keys}" if names else ""
    quantiles = (
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY tta) AS tta_p50,"
        " percentile_disc(0.9) WITHIN GROUP (ORDER BY tta) AS tta_p90,"
        " percentile_disc(0.5) WITHIN GROUP (ORDER BY ttr) AS ttr_p50,"
        " percentile_disc(0.9) WITHIN GROUP (ORDER BY ttr) AS ttr_p90"
    )
    selected = "".join(f"m.{name}, " for name in names)
    medians = ("m.tta_p50", "m.tta_p90", "m.ttr_p50", "m.ttr_p90")
    return (
        f"SELECT {selected}{_figures('double precision', 'm', medians)} FROM ("
        f"SELECT {keys + ', ' if names else ''}{_COUNTS}, {quantiles}"
        f" FROM ({_pg_facts(groups, names, where)}) AS b{group_by}) AS m"
    )


def _sqlite(keys: Sequence[Dimension], names: Sequence[str], period: Period, where: str) -> str:
    """One GROUP BY over the facts with `muster_p50_p90` (`muster.db.sqlite_functions`)."""
    keyed = ", ".join(names)
    group_by = f" GROUP BY {keyed}" if names else ""
    shown = "".join(
        f"{_SQLITE_PERIOD_TEXT[period].format(f'c.{name}')} AS {name}, "
        if dimension is Dimension.PERIOD
        else f"c.{name}, "
        for dimension, name in zip(keys, names, strict=True)
    )
    quantiles = [f"json_extract(c.q, '$[{i}]')" for i in range(4)]
    return (
        f"SELECT {shown}{_figures('REAL', 'c', quantiles)} FROM ("
        f"SELECT {keyed + ', ' if names else ''}{_COUNTS}, muster_p50_p90(tta, ttr) AS q"
        f" FROM ({_sqlite_facts(keys, names, period, where)}) AS b{group_by}) AS c"
    )


# a subquery SQLite does not flatten into its outer query (OFFSET), so that it is run as a
# co-routine and each of its columns is computed once per row, not once per use
_NOT_FLATTENED = " LIMIT -1 OFFSET 0"


def _sqlite_facts(
    keys: Sequence[Dimension], names: Sequence[str], period: Period, where: str
) -> str:
    """The facts on SQLite, from an inner row of julianday() values (each computed once).

    julianday keeps milliseconds, rounded, so the differences are exact whole milliseconds.
    """
    inner, outer = [], []
    for dimension, name in zip(keys, names, strict=True):
        if dimension is not Dimension.PERIOD:
            inner.append(f"{_COLUMNS[dimension]} AS {name}")
            outer.append(name)
        elif period is Period.MONTH:
            inner.append(f"{_SQLITE_MONTH} AS {name}")
            outer.append(name)
        else:  # the day number once; its week's Monday from it
            inner.append(f"{_SQLITE_DAY} AS {name}")
            outer.append(
                f"{_SQLITE_WEEK.format(d=name)} AS {name}" if period is Period.WEEK else name
            )
    ms = "CASE WHEN x THEN NULL ELSE CAST(round(({} - jc) * 86400000) AS INTEGER) END"
    row = (
        f"SELECT {''.join(f'{e}, ' for e in inner)}exclude_from_sla AS x,"
        " julianday(created_at) AS jc, julianday(responded_at) AS jr,"
        f" julianday(resolved_at) AS js, {_STATE} AS st FROM incidents WHERE {where}"
    )
    return (
        f"SELECT {''.join(f'{e}, ' for e in outer)}CAST(x AS INTEGER) AS excl,"
        f" {ms.format('jr')} AS tta, {ms.format('js')} AS ttr, st"
        f" FROM ({row}{_NOT_FLATTENED}){_NOT_FLATTENED}"
    )
