"""PostgreSQL planner statistics are refreshed once a table has grown enough."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from muster.db.engine import Database
from muster.db.statistics import StatisticsKeeper


def _reltuples(db: Database, table: str) -> float:
    with db.engine.connect() as conn:
        return float(
            conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            ).scalar_one()
        )


def test_growth_triggers_one_analysis_that_updates_the_row_estimate(db: Database) -> None:
    if db.dialect != "postgresql":
        assert db.statistics is None  # SQLite plans do not depend on statistics
        return
    table = "stats_keeper_probe"
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(text(f"CREATE TABLE {table} (id int)"))
        conn.execute(text(f"INSERT INTO {table} SELECT generate_series(1, 5000)"))
    keeper = StatisticsKeeper(db.engine, minimum=1000)
    try:
        assert _reltuples(db, table) <= 0  # never analysed: the planner does not know
        assert not keeper.inserted(table, 999)  # below the minimum: nothing yet
        assert keeper.inserted(table, 4001)
        deadline = time.monotonic() + 10
        while _reltuples(db, table) < 5000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _reltuples(db, table) == pytest.approx(5000)
        time.sleep(0.2)  # let the analysis thread finish its bookkeeping
        assert not keeper.inserted(table, 900)  # now 20 % of 5,000 is needed again (1,000)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
