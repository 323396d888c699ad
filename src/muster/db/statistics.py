"""Fresh planner statistics for tables that grow fast (PostgreSQL).

PostgreSQL plans with the row counts its last `ANALYZE` saw. A tenant that goes from nothing
to a million alerts in minutes outruns autovacuum, which looks once a minute and analyses a
table only after 10 % of it changed: until then the planner believes `alerts` holds a few
hundred rows, and the ingest's look-up of 1,000 dedup keys becomes a scan of every alert of
the tenant (measured: 5 ms with fresh statistics, 119 ms at 100,000 alerts without; see
docs/performance.md). `StatisticsKeeper` counts the rows this process inserts and runs
`ANALYZE <table>` on a thread of its own once they reach a fifth of what the table held at
the last analysis (at least `minimum` rows), one analysis at a time, never in a request's
transaction. SQLite does not need it: muster's queries there do not depend on statistics.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import structlog
from sqlalchemy import Engine, text

log = structlog.get_logger("muster.db")

GROWTH = 0.2  # analyse after the table grew by this fraction since the last analysis


class StatisticsKeeper:
    """Counts inserted rows per table and analyses a table when it has grown enough."""

    def __init__(self, engine: Engine, *, minimum: int = 20_000) -> None:
        self.engine = engine
        self.minimum = minimum
        self._lock = threading.Lock()
        self._pending: dict[str, int] = defaultdict(int)
        self._size: dict[str, int] = defaultdict(int)  # rows at the last analysis
        self._running = False

    def inserted(self, table: str, rows: int) -> bool:
        """Count `rows` new rows of `table`; True if that started an analysis."""
        if rows <= 0:
            return False
        with self._lock:
            self._pending[table] += rows
            due = self._pending[table] >= max(self.minimum, GROWTH * self._size[table])
            if not due or self._running:
                return False
            self._running = True
            grown = self._pending.pop(table)
        threading.Thread(
            target=self._analyse, args=(table, grown), name="muster-analyse", daemon=True
        ).start()
        return True

    def _analyse(self, table: str, grown: int) -> None:
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'ANALYZE "{table}"'))
                rows = conn.execute(
                    text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:t)"),
                    {"t": table},
                ).scalar()
            with self._lock:
                self._size[table] = max(int(rows or 0), self._size[table] + grown)
            log.info("table_analysed", table=table, rows=self._size[table])
        except Exception as exc:  # statistics are an optimisation: never fail ingest for them
            log.warning("table_analyse_failed", table=table, error=str(exc))
        finally:
            with self._lock:
                self._running = False
