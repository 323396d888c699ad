"""The incident metrics statement: one aggregate SQL statement per request, per dialect.

Every figure is computed by the database. Per incident of the cohort (created in
[start, end), tenant-bound unless scope=all) the statement derives:

- `tta` / `ttr`: responded_at - created_at / resolved_at - created_at in whole milliseconds
  (each timestamp rounded to the millisecond; NULL when not reached or excludeFromSLA);
- `st`: the SLA state of its targets as of `now` (NULL excluded, 2 breached, 1 all targets
  with an outcome met, 0 no outcome yet; see docs/metrics.md);

then per group: counts, sums, and the nearest-rank p50 / p90 (the ceil(p*n)-th smallest).
PostgreSQL has that quantile as `percentile_disc`. SQLite (3.40 has no percentile aggregate)
ranks each measure with `row_number()` over its group and keeps the rows at positions
ceil(n/2) and ceil(9n/10), n coming from the group's counts (integer arithmetic, so both
dialects pick the same rank). Durations in seconds and the percentage are computed in SQL too.

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
from muster.sla.metrics_params import MAX_WINDOW, Dimension, MetricsQuery, Period

# the incident column each plain dimension groups by
_COLUMNS = {
    Dimension.TENANT: "tenant_id",
    Dimension.SEVERITY: "severity",
    Dimension.SOURCE: "source",
    Dimension.TACTIC: "mitre_tactic",
    Dimension.ASSIGNEE: "assignee",
}
# SQLite: calendar buckets of created_at (UTC text) as integers, which sort and compare far
# faster than text: a day number of the bucket's first day (julianday of its midnight,
# truncated), or year * 12 + month - 1; turned into 'YYYY-MM-DD' only for the answer
_SQLITE_DAY = "CAST(julianday(substr(created_at, 1, 10)) AS INTEGER)"
_SQLITE_PERIOD = {
    Period.DAY: _SQLITE_DAY,
    Period.WEEK: f"{_SQLITE_DAY} - ({_SQLITE_DAY} + 1) % 7",  # back to Monday
    Period.MONTH: "CAST(substr(created_at, 1, 4) AS INTEGER) * 12"
    " + CAST(substr(created_at, 6, 2) AS INTEGER) - 1",
}
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
    groups = [_group_expression(dialect, d, query.period) for d in keys]
    names = [f"g{i}" for i in range(len(keys))]
    # Core text is not tenant-scoped by the session: bind the tenant explicitly.
    where = "tenant_id = :tenant_id AND " if tenant_id is not None else ""
    where += "created_at >= :start AND created_at < :end"
    if dialect == "sqlite":
        shown = [
            _SQLITE_PERIOD_TEXT[query.period].format(f"c.{name}")
            if dimension is Dimension.PERIOD
            else f"c.{name}"
            for dimension, name in zip(keys, names, strict=True)
        ]
        packed = bool(keys) and all(d in _PACKED_RADIX for d in keys)
        code = _group_code(keys, names, query.period) if packed else None
        sql = _sqlite(groups, names, shown, where, code)
    else:
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


def _group_expression(dialect: str, dimension: Dimension, period: Period) -> str:
    if dimension is not Dimension.PERIOD:
        return _COLUMNS[dimension]
    if dialect == "sqlite":
        return _SQLITE_PERIOD[period]
    return _PG_PERIOD.format(unit=period.value)


def _duration(dialect: str, column: str) -> str:
    """`column - created_at` in whole milliseconds (NULL when `column` is NULL or excluded)."""
    if dialect == "sqlite":  # julianday keeps milliseconds, rounded; the difference is exact
        ms = f"CAST(round((julianday({column}) - julianday(created_at)) * 86400000) AS INTEGER)"
    else:  # date_part is float8 (extract's numeric costs far more); same rounding per timestamp
        ms = (
            f"CAST(round(date_part('epoch', {column}) * 1000)"
            " - round(date_part('epoch', created_at) * 1000) AS bigint)"
        )
    return f"CASE WHEN exclude_from_sla THEN NULL ELSE {ms} END"


def _facts(dialect: str, groups: Sequence[str], names: Sequence[str], where: str) -> str:
    """One narrow row per cohort incident: group keys, excluded flag, durations, SLA state."""
    selected = "".join(f"{expr} AS {name}, " for expr, name in zip(groups, names, strict=True))
    return (
        f"SELECT {selected}CAST(exclude_from_sla AS INTEGER) AS excl,"
        f" {_duration(dialect, 'responded_at')} AS tta,"
        f" {_duration(dialect, 'resolved_at')} AS ttr,"
        f" {_STATE} AS st"
        f" FROM incidents WHERE {where}"
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
        f" FROM ({_facts('postgresql', groups, names, where)}) AS b{group_by}) AS m"
    )


def _sqlite(
    groups: Sequence[str],
    names: Sequence[str],
    shown: Sequence[str],
    where: str,
    code: str | None,
) -> str:
    """Facts materialized once; counts per group; each measure ranked within its group.

    `shown` are the key expressions of the answer (over `c`). With a group `code` (only
    integer keys: `_group_code`) each duration is ranked once over a single packed integer
    key instead of per partition: SQLite sorts one integer much faster than two columns.
    """
    keys = ", ".join(names)
    group_by = f" GROUP BY {keys}" if names else ""
    per_group = f"{keys + ', ' if names else ''}{_COUNTS} FROM b{group_by}"
    counts = f"SELECT {per_group}"
    measures = [(cte, m, rank.format(n=f"c.{m}_n")) for cte, m in _MEASURES for rank in _RANKS]
    if code is None:
        ranks = [_ranked(cte, m, names) for cte, m in _MEASURES]
        picks = [_pick(cte, names, rank) for cte, _, rank in measures]
    else:  # each group's ranks follow the ranks of the groups with smaller codes
        counts = (
            f"SELECT *, sum(tta_n) OVER o - tta_n AS tta_off, sum(ttr_n) OVER o - ttr_n AS ttr_off"
            f" FROM (SELECT {code} AS code, {per_group})"
            " WINDOW o AS (ORDER BY code ROWS UNBOUNDED PRECEDING)"
        )
        ranks = [_packed(cte, m, code) for cte, m in _MEASURES]
        picks = [
            f"CASE WHEN c.{m}_n > 0 THEN (SELECT {cte}.v FROM {cte}"
            f" WHERE {cte}.rn = c.{m}_off + {rank}) END"
            for cte, m, rank in measures
        ]
    selected = "".join(f"{expr} AS {name}, " for expr, name in zip(shown, names, strict=True))
    return (
        f"WITH b AS MATERIALIZED ({_facts('sqlite', groups, names, where)}),"
        f" c AS MATERIALIZED ({counts}), {ranks[0]}, {ranks[1]}"
        f" SELECT {selected}{_figures('REAL', 'c', picks)} FROM c"
    )


_MEASURES = (("qa", "tta"), ("qr", "ttr"))  # (ranked CTE, duration)
# the nearest-rank median and p90 of n values: ranks ceil(n/2) and ceil(9n/10), 1-based
_RANKS = ("({n} + 1) / 2", "(9 * {n} + 9) / 10")
# integer group keys packable into one sort key, each with a bound of its (relative) values:
# severity 1..4, a period bucket's distance from the first one (at most MAX_WINDOW days)
_PACKED_RADIX = {Dimension.SEVERITY: 8, Dimension.PERIOD: MAX_WINDOW.days + 2}
_SHIFT = 2**42  # the duration takes the low 42 bits (+-69 years in ms; clamped beyond, which
# only orders such absurd values among themselves; the value reported is the stored one)
_HALF = 2**41


def _group_code(keys: Sequence[Dimension], names: Sequence[str], period: Period) -> str:
    """A small integer per group, ordered like the groups: severity, and period buckets
    counted from the bucket of `:start`, in mixed radix."""
    terms, weight = [], 1
    for dimension, name in zip(keys, names, strict=True):
        start = _SQLITE_PERIOD[period].replace("created_at", ":start")
        value = name if dimension is Dimension.SEVERITY else f"({name} - ({start}))"
        terms.append(f"{value} * {weight}")
        weight *= _PACKED_RADIX[dimension]
    return " + ".join(terms) if terms else "0"


def _packed(cte: str, measure: str, code: str) -> str:
    """The values of `measure` at the ranks `c` asks for, ranked once over all groups by
    (group code, value) packed into one integer."""
    key = f"({code}) * {_SHIFT} + max(min({measure}, {_HALF - 1}), {-_HALF}) + {_HALF}"
    wanted = " UNION ALL ".join(
        f"SELECT {measure}_off + {rank.format(n=f'{measure}_n')} FROM c" for rank in _RANKS
    )
    return (
        f"{cte} AS MATERIALIZED (SELECT w.rn, w.v FROM (SELECT {measure} AS v,"
        f" row_number() OVER (ORDER BY {key}) AS rn FROM b WHERE {measure} IS NOT NULL) AS w"
        f" WHERE w.rn IN ({wanted}))"
    )


def _ranked(cte: str, measure: str, names: Sequence[str]) -> str:
    """The values of `measure` at the median and p90 ranks of their group (<= 2 per group).

    `w` is the outer loop (CROSS JOIN fixes SQLite's join order) and finds its group's
    counts in `c` through an automatic index on c's (small) key.
    """
    keys = ", ".join(names)
    partition = f"PARTITION BY {keys} " if names else ""
    same = "".join(f"w.{name} IS c.{name} AND " for name in names)
    return (
        f"{cte} AS MATERIALIZED (SELECT {''.join(f'w.{n}, ' for n in names)}w.v, w.rn FROM"
        f" (SELECT {keys + ', ' if names else ''}{measure} AS v,"
        f" row_number() OVER ({partition}ORDER BY {measure}) AS rn"
        f" FROM b WHERE {measure} IS NOT NULL) AS w CROSS JOIN c"
        f" WHERE {same}w.rn IN ({', '.join(r.format(n=f'c.{measure}_n') for r in _RANKS)}))"
    )


def _pick(cte: str, names: Sequence[str], rank: str) -> str:
    """The value at `rank` of the current group of `c`, from a `_ranked` CTE."""
    same = "".join(f"{cte}.{name} IS c.{name} AND " for name in names)
    return f"(SELECT {cte}.v FROM {cte} WHERE {same}{cte}.rn = {rank})"
