"""Incident metrics computed in the database agree exactly with a Python reference.

A seeded generator writes incidents straight into the table (created around a window in
2030, responded / resolved / due at random instants, some excluded, some without due
times); the reference recomputes every figure from the same rows with the documented
definitions (docs/metrics.md): durations in whole milliseconds of timestamps rounded to the
millisecond, nearest-rank median / p90, SLA outcomes as of `now`. Generated microseconds are
never an exact half millisecond, whose rounding the two databases may settle differently.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from tests.factories import make_tenant

from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.db.sqlite_functions import register as register_quantile_functions
from muster.errors import Forbidden
from muster.models import Incident
from muster.sla.metrics import MetricsGroup, incident_metrics
from muster.sla.metrics_params import Dimension, MetricsQuery, Period, Scope

START = datetime(2030, 1, 27, 6, 0, tzinfo=UTC)
END = datetime(2030, 3, 10, 18, 0, tzinfo=UTC)
NOW = datetime(2030, 3, 20, 12, 0, tzinfo=UTC)
EARLIER = datetime(2030, 2, 20, 9, 30, tzinfo=UTC)  # pending targets: some due, some not
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SOURCES = ("CrowdStrike Falcon", "SentinelOne", "manual")
TACTICS = ("Execution", "Discovery", None)
ASSIGNEES = ("ana@example.test", "bo@example.test", "SOAR", None)


@dataclass(frozen=True, slots=True)
class Row:
    """One generated incident, as the reference sees it."""

    tenant_id: uuid.UUID
    created_at: datetime
    severity: int
    source: str
    tactic: str | None
    assignee: str | None
    excluded: bool
    responded_at: datetime | None
    resolved_at: datetime | None
    response_due_at: datetime | None
    resolution_due_at: datetime | None


def _jitter(rng: random.Random) -> timedelta:
    """Up to a second of microseconds, never an exact half millisecond."""
    micros = rng.randrange(1_000_000)
    return timedelta(microseconds=micros + 1 if micros % 1000 == 500 else micros)


def generate(
    tenant_id: uuid.UUID, count: int, seed: int, start: datetime = START, end: datetime = END
) -> list[Row]:
    """`count` incidents created around [start, end), plus one exactly at each bound."""
    rng = random.Random(seed)
    span = (end - start) + timedelta(days=6)
    created = [start, end] + [
        start - timedelta(days=3) + span * rng.random() + _jitter(rng) for _ in range(count - 2)
    ]
    return [_row(tenant_id, at, rng) for at in created]


def _row(tenant_id: uuid.UUID, created: datetime, rng: random.Random) -> Row:
    respond_in = timedelta(seconds=rng.choice((600, 3600, 14_400)))
    resolve_in = timedelta(hours=rng.choice((4, 24, 72)))
    due = (None, None) if rng.random() < 0.15 else (created + respond_in, created + resolve_in)
    responded = resolved = None
    if rng.random() < 0.7:
        delay = respond_in if rng.random() < 0.05 else respond_in * rng.uniform(0.05, 2.5)
        responded = created + delay + _jitter(rng)
        if due[0] is not None and delay == respond_in:
            responded = due[0]  # met exactly at the due time
        if rng.random() < 0.6:
            resolved = responded + resolve_in * rng.uniform(0.05, 2.0) + _jitter(rng)
    elif rng.random() < 0.2:  # closed by automation: nobody responded
        resolved = created + resolve_in * rng.uniform(0.05, 1.5) + _jitter(rng)
    return Row(
        tenant_id=tenant_id,
        created_at=created,
        severity=rng.randint(1, 4),
        source=rng.choice(SOURCES),
        tactic=rng.choice(TACTICS),
        assignee=rng.choice(ASSIGNEES),
        excluded=rng.random() < 0.1,
        responded_at=responded,
        resolved_at=resolved,
        response_due_at=due[0],
        resolution_due_at=due[1],
    )


def store(db: Database, rows: Sequence[Row]) -> None:
    """Insert the rows as incidents (Core insert, straight to the table)."""
    values = []
    for n, r in enumerate(rows):
        status = (
            "RESOLVED" if r.resolved_at else "UNDER_INVESTIGATION" if r.responded_at else "OPEN"
        )
        values.append(
            {
                "id": uuid.uuid4(), "tenant_id": r.tenant_id, "number": n + 1,
                "incident_hash": uuid.uuid4().hex[:16], "description": f"generated {n}",
                "severity": r.severity, "source": r.source, "mitre_tactic": r.tactic,
                "assignee": r.assignee, "assignee_name": r.assignee, "status": status,
                "resolution": "TRUE_POSITIVE" if r.resolved_at else None,
                "exclude_from_sla": r.excluded, "responded_at": r.responded_at,
                "resolved_at": r.resolved_at, "response_due_at": r.response_due_at,
                "resolution_due_at": r.resolution_due_at, "created_at": r.created_at,
                "updated_at": r.created_at,
            }
        )  # fmt: skip
    with unit_of_work(db, SystemContext(), write=True) as session:
        session.connection().execute(insert(Incident.__table__), values)


# --------------------------------------------------------------------------- the reference


def epoch_ms(at: datetime) -> int:
    """The instant in whole milliseconds since the epoch, rounded half up."""
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return (micros + 500) // 1000


def _rank(values: list[int], numerator: int, denominator: int) -> int:
    """The nearest-rank quantile: the ceil(p*n)-th smallest value."""
    ordered = sorted(values)
    return ordered[math.ceil(numerator * len(ordered) / denominator) - 1]


def _outcome(achieved: datetime | None, due: datetime | None, now: datetime) -> str | None:
    if due is None:
        return None
    if achieved is not None:
        return "met" if achieved <= due else "breached"
    return "breached" if now > due else None


def _bucket(at: datetime, period: Period) -> str:
    day = at.date()
    if period is Period.WEEK:
        day -= timedelta(days=day.weekday())
    elif period is Period.MONTH:
        day = date(day.year, day.month, 1)
    return day.isoformat()


def _key(row: Row, query: MetricsQuery) -> tuple[Any, ...]:
    values = {
        Dimension.TENANT: row.tenant_id,
        Dimension.SEVERITY: row.severity,
        Dimension.SOURCE: row.source,
        Dimension.TACTIC: row.tactic,
        Dimension.ASSIGNEE: row.assignee,
        Dimension.PERIOD: _bucket(row.created_at, query.period),
    }
    return tuple(values[d] for d in query.group_by)


def _durations(values: list[int]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return _rank(values, 1, 2) / 1000, sum(values) / len(values) / 1000, _rank(values, 9, 10) / 1000


def reference(
    rows: Sequence[Row], query: MetricsQuery, now: datetime
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The expected figures per group key, from the definitions in docs/metrics.md."""
    cohort: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        if query.start <= row.created_at < query.end:
            cohort[_key(row, query)].append(row)
    if not query.group_by:
        cohort.setdefault((), [])
    return {key: _figures(members, now) for key, members in cohort.items()}


def _figures(members: list[Row], now: datetime) -> dict[str, Any]:
    counted = [r for r in members if not r.excluded]
    tta = [epoch_ms(r.responded_at) - epoch_ms(r.created_at) for r in counted if r.responded_at]
    ttr = [epoch_ms(r.resolved_at) - epoch_ms(r.created_at) for r in counted if r.resolved_at]
    outcomes = [
        {_outcome(r.responded_at or r.resolved_at, r.response_due_at, now),
         _outcome(r.resolved_at, r.resolution_due_at, now)} - {None}
        for r in counted
    ]  # fmt: skip
    breached = sum(1 for o in outcomes if "breached" in o)
    within = sum(1 for o in outcomes if o == {"met"})
    return {
        "opened": len(counted),
        "excluded": len(members) - len(counted),
        "resolved": len(ttr),
        "breached": breached,
        "mtta": _durations(tta),
        "mttr": _durations(ttr),
        "within": 100 * within / (within + breached) if within + breached else None,
    }


def measured(groups: Sequence[MetricsGroup]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The service's groups in the reference's shape."""
    return {
        tuple(g.key.values()): {
            "opened": g.opened,
            "excluded": g.excluded,
            "resolved": g.resolved,
            "breached": g.breached,
            "mtta": (g.mtta.median, g.mtta.mean, g.mtta.p90),
            "mttr": (g.mttr.median, g.mttr.mean, g.mttr.p90),
            "within": g.within_sla_percent,
        }
        for g in groups
    }


# --------------------------------------------------------------------------- the tests


@dataclass(frozen=True, slots=True)
class Dataset:
    """Two tenants' generated incidents, stored."""

    a: uuid.UUID
    b: uuid.UUID
    rows: list[Row]

    def of(self, tenant_id: uuid.UUID) -> list[Row]:
        """The rows of one tenant."""
        return [r for r in self.rows if r.tenant_id == tenant_id]


# the last microsecond of a month (a Thursday) and of a Sunday, and the Monday after it
EDGES = (
    datetime(2030, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2030, 2, 3, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2030, 2, 4, tzinfo=UTC),
)


def edges(tenant_id: uuid.UUID) -> list[Row]:
    """Incidents created at the UTC day, week and month boundaries."""
    return [
        Row(tenant_id, at, 2, "manual", None, None, False, at + timedelta(minutes=5),
            None, at + timedelta(hours=1), None)
        for at in EDGES
    ]  # fmt: skip


@pytest.fixture(scope="module")
def data(db: Database) -> Dataset:
    """Tenant A with 703 incidents, tenant B with 150, generated once per backend."""
    a, b = make_tenant(db).id, make_tenant(db).id
    rows = generate(a, 700, seed=5) + edges(a) + generate(b, 150, seed=6)
    store(db, rows)
    return Dataset(a, b, rows)


def _query(group_by: Sequence[str] = (), period: str = "day", **over: Any) -> MetricsQuery:
    fields: dict[str, Any] = {
        "start": START,
        "end": END,
        "group_by": tuple(Dimension(d) for d in group_by),
        "period": Period(period),
    }
    return MetricsQuery(**(fields | over))


def _run(
    db: Database, tenant_id: uuid.UUID | None, query: MetricsQuery, now: datetime
) -> list[MetricsGroup]:
    ctx = SystemContext() if tenant_id is None else TenantContext(tenant_id)
    with unit_of_work(db, ctx) as session:
        return list(incident_metrics(session, query, now).groups)


GROUPINGS = [
    ((), "day"),
    (("severity",), "day"),
    (("source", "tactic"), "day"),
    (("assignee",), "day"),
    (("period",), "day"),
    (("period",), "week"),
    (("period",), "month"),
    (("severity", "period"), "week"),
    (("tactic", "assignee", "source"), "day"),
]


def _grouping_id(value: object) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


class TestIncidentMetrics:
    @pytest.mark.parametrize("now", [NOW, EARLIER], ids=["after", "during"])
    @pytest.mark.parametrize(("group_by", "period"), GROUPINGS, ids=_grouping_id)
    def test_every_figure_matches_the_reference(
        self, db: Database, data: Dataset, group_by: tuple[str, ...], period: str, now: datetime
    ) -> None:
        query = _query(group_by, period)
        expected = reference(data.of(data.a), query, now)
        assert measured(_run(db, data.a, query, now)) == expected
        assert sum(f["opened"] + f["excluded"] for f in expected.values()) > 500  # guard

    def test_the_window_includes_from_and_excludes_to(self, db: Database, data: Dataset) -> None:
        tick = timedelta(microseconds=1)
        (first,) = _run(db, data.a, _query(end=START + tick), NOW)
        (before_end,) = _run(db, data.a, _query(start=END - tick), NOW)
        (from_end,) = _run(db, data.a, _query(start=END, end=END + tick), NOW)
        assert first.opened + first.excluded == 1
        assert before_end.opened + before_end.excluded == 0
        assert from_end.opened + from_end.excluded == 1

    @pytest.mark.parametrize("period", ["day", "week", "month"])
    def test_buckets_follow_the_utc_calendar_to_the_microsecond(
        self, db: Database, data: Dataset, period: str
    ) -> None:
        edge = {"start": EDGES[1], "end": EDGES[0] + timedelta(microseconds=1)}
        groups = _run(db, data.a, _query(["period"], period, **edge), NOW)
        first, last = groups[0].key[Dimension.PERIOD], groups[-1].key[Dimension.PERIOD]
        expected = {"day": ("2030-02-03", "2030-02-28"), "week": ("2030-01-28", "2030-02-25"),
                    "month": ("2030-02-01", "2030-02-01")}  # fmt: skip
        assert (first, last) == expected[period]

    def test_groups_come_in_key_order_with_nulls_last(self, db: Database, data: Dataset) -> None:
        keys = [g.key[Dimension.TACTIC] for g in _run(db, data.a, _query(["tactic"]), NOW)]
        assert keys == ["Discovery", "Execution", None]

    @pytest.mark.parametrize("group_by", [["severity"], ["severity", "period"], ["source"]])
    def test_a_group_nobody_responded_to_has_no_durations(
        self, db: Database, group_by: list[str]
    ) -> None:
        tenant_id, at = make_tenant(db).id, START + timedelta(days=3)
        rows = [
            Row(tenant_id, at, severity, "manual", None, None, False,
                at + timedelta(minutes=severity) if severity != 2 else None,
                None, None, None)
            for severity in (1, 2, 3)
        ]  # fmt: skip
        store(db, rows)
        groups = _run(db, tenant_id, _query(group_by), NOW)
        assert measured(groups) == reference(rows, _query(group_by), NOW)
        if "source" not in group_by:
            assert [g.mtta.median for g in groups] == [60.0, None, 180.0]

    def test_an_empty_window_answers_one_empty_total_or_no_groups(
        self, db: Database, data: Dataset
    ) -> None:
        empty = {"start": datetime(2029, 1, 1, tzinfo=UTC), "end": datetime(2029, 2, 1, tzinfo=UTC)}
        (total,) = _run(db, data.a, _query(**empty), NOW)
        assert (total.opened, total.resolved, total.breached, total.excluded) == (0, 0, 0, 0)
        assert total.mtta.median is None and total.mttr.mean is None
        assert total.within_sla_percent is None
        assert _run(db, data.a, _query(["severity"], **empty), NOW) == []


class TestScope:
    def test_a_tenant_sees_only_its_own_incidents(self, db: Database, data: Dataset) -> None:
        query = _query(["tenant", "severity"])
        got = measured(_run(db, data.b, query, NOW))
        assert got == reference(data.of(data.b), query, NOW)
        assert {key[0] for key in got} == {data.b}

    def test_all_tenants_for_a_system_session(self, db: Database, data: Dataset) -> None:
        query = _query(["tenant", "source"], scope=Scope.ALL)
        groups = _run(db, None, query, NOW)
        ours = [g for g in groups if g.key[Dimension.TENANT] in (data.a, data.b)]
        expected = reference(data.rows, query, NOW)
        assert measured(ours) == expected
        assert all(g.tenant_name and g.tenant_name.startswith("tenant-") for g in ours)

    def test_scope_all_is_refused_in_a_tenant_session(self, db: Database, data: Dataset) -> None:
        with pytest.raises(Forbidden):
            _run(db, data.a, _query(scope=Scope.ALL), NOW)


class TestQuantileAggregates:
    """The SQLite aggregates (`muster.db.sqlite_functions`) pick percentile_disc's rank."""

    @pytest.fixture
    def conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(":memory:")
        register_quantile_functions(conn)
        conn.execute("CREATE TABLE t (g INTEGER, a INTEGER, b INTEGER)")
        yield conn
        conn.close()

    def _fill(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        conn.execute("DELETE FROM t")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)

    def _both(self, conn: sqlite3.Connection, p: float) -> tuple[Any, Any]:
        """muster_quantile(a, p) and the same quantile from muster_p50_p90 (p 0.5 or 0.9)."""
        (single,) = conn.execute("SELECT muster_quantile(a, ?) FROM t", (p,)).fetchone()
        (pair,) = conn.execute(
            "SELECT json_extract(muster_p50_p90(a, b), ?) FROM t", (f"$[{int(p == 0.9)}]",)
        ).fetchone()
        return single, pair

    def test_no_rows_is_null(self, conn: sqlite3.Connection) -> None:
        assert self._both(conn, 0.5) == (None, None)
        assert self._both(conn, 0.9) == (None, None)
        assert conn.execute("SELECT muster_p50_p90(a, b) FROM t GROUP BY g").fetchall() == []

    def test_only_nulls_is_null(self, conn: sqlite3.Connection) -> None:
        self._fill(conn, [(1, None, None)] * 3)
        assert self._both(conn, 0.5) == (None, None)
        (pair,) = conn.execute("SELECT muster_p50_p90(a, b) FROM t").fetchone()
        assert json.loads(pair) == [None, None, None, None]

    def test_one_value_is_every_quantile(self, conn: sqlite3.Connection) -> None:
        self._fill(conn, [(1, None, None), (1, 42, None)])
        assert self._both(conn, 0.5) == (42, 42)
        assert self._both(conn, 0.9) == (42, 42)

    def test_the_median_of_an_even_count_is_the_lower_middle(
        self, conn: sqlite3.Connection
    ) -> None:
        self._fill(conn, [(1, 7, None), (1, 3, None)])
        assert self._both(conn, 0.5) == (3, 3)
        self._fill(conn, [(1, v, None) for v in (4, 1, 3, 2)])
        assert self._both(conn, 0.5) == (2, 2)

    def test_the_p90_of_ten_values_is_the_ninth(self, conn: sqlite3.Connection) -> None:
        self._fill(conn, [(1, v * 10, None) for v in (3, 10, 1, 9, 5, 2, 8, 4, 7, 6)])
        assert self._both(conn, 0.9) == (90, 90)
        self._fill(conn, [(1, v, None) for v in range(1, 12)])  # 11 values: ceil(9.9) = 10th
        assert self._both(conn, 0.9) == (10, 10)

    def test_both_measures_per_group_match_the_reference(self, conn: sqlite3.Connection) -> None:
        rng = random.Random(11)
        rows = [
            (rng.randrange(5), rng.choice((None, rng.randrange(-50, 10**9))),
             rng.choice((None, None, rng.randrange(10**12))))
            for _ in range(3000)
        ]  # fmt: skip
        self._fill(conn, rows)
        got = conn.execute("SELECT g, muster_p50_p90(a, b) FROM t GROUP BY g").fetchall()
        for g, pair in got:
            expected: list[Any] = []
            for column in (1, 2):
                values = [r[column] for r in rows if r[0] == g and r[column] is not None]
                expected += [_rank(values, 1, 2), _rank(values, 9, 10)] if values else [None] * 2
            assert json.loads(pair) == expected
        assert len(got) == 5

    def test_a_quantile_outside_zero_to_one_is_an_error(self, conn: sqlite3.Connection) -> None:
        self._fill(conn, [(1, 1, None)])
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT muster_quantile(a, 1.5) FROM t").fetchone()
