"""Engine construction: SQLite (WAL, one writer at a time) or PostgreSQL, same models."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from muster.config import Settings
from muster.db.checkpoint import WalCheckpointer
from muster.db.sqlite_functions import register as register_quantile_functions
from muster.db.statistics import StatisticsKeeper
from muster.db.types import dumps_json, loads_json
from muster.query.functions import register as register_sql_functions

SQLITE_POOL = 48  # covers the request thread pool (40) and the ingest writer


class Database:
    """An engine, its session factory and, on SQLite, the in-process writer gate."""

    def __init__(self, engine: Engine, checkpointer: WalCheckpointer | None = None) -> None:
        self.engine = engine
        self.checkpointer = checkpointer
        # PostgreSQL: keep the planner's row counts up with fast-growing tables
        self.statistics = StatisticsKeeper(engine) if engine.dialect.name == "postgresql" else None
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer. Queueing writers on a lock in this process is fair and avoids
        # SQLite's sleep-and-retry busy handler, which would wreck tail latency.
        self.write_gate: threading.Lock | None = (
            threading.Lock() if engine.dialect.name == "sqlite" else None
        )

    def inserted(self, table: str, rows: int) -> None:
        """Tell the statistics keeper that `rows` rows were committed into `table`."""
        if self.statistics is not None:
            self.statistics.inserted(table, rows)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def ping(self) -> None:
        """Run `SELECT 1` on a pooled connection; raises when the database cannot answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def session(self) -> Session:
        """Return a new session; only `unit_of_work` should call this."""
        return self.sessions()

    def dispose(self) -> None:
        """Close every pooled connection (and checkpoint a SQLite log written in the background)."""
        self.engine.dispose()
        if self.checkpointer is not None:
            self.checkpointer.stop()


def create_db_engine(
    settings: Settings, *, background_checkpoints: bool = False, prepared_statements: bool = False
) -> Database:
    """Build the engine for `settings.database_url` with the right pragmas and pool.

    `background_checkpoints` (for long-lived writers: the server, `muster ingest`) moves a
    SQLite file's WAL checkpoints to a thread (`muster.db.checkpoint`) when
    `settings.sqlite_checkpoint_seconds` is positive; `dispose()` stops it.
    `prepared_statements` lets psycopg prepare statements it runs often on PostgreSQL (for
    `muster worker`, whose many small per-step statements are then parsed and planned once).
    """
    url = make_url(settings.database_url)
    common: dict[str, Any] = {
        "echo": settings.database_echo,
        "pool_timeout": settings.database_pool_timeout_seconds,
        "json_serializer": dumps_json,
        "json_deserializer": loads_json,
    }
    if url.get_backend_name() == "sqlite":
        checkpointer = None
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            if background_checkpoints and settings.sqlite_checkpoint_seconds > 0:
                checkpointer = WalCheckpointer(url.database, settings.sqlite_checkpoint_seconds)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # SQLite connections are cheap to keep: one per worker thread, never re-opened
            # (a re-opened connection pays for its PRAGMAs again).
            pool_size=max(settings.database_pool_size, SQLITE_POOL),
            max_overflow=SQLITE_POOL,
            **common,
        )
        _install_sqlite_hooks(engine, auto_checkpoint=checkpointer is None)
        return Database(engine, checkpointer.start() if checkpointer else None)
    engine = create_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=20,
        pool_pre_ping=True,
        # By default no server-side prepared statements: after five runs psycopg would prepare
        # the ingest lookups, and PostgreSQL then reuses a generic plan made when the tenant
        # had few alerts (a scan of all its alerts per batch; see docs/performance.md).
        connect_args={
            "prepare_threshold": 5 if prepared_statements else None,
            # an unreachable server fails the request in seconds instead of TCP's minutes
            "connect_timeout": settings.database_connect_timeout_seconds,
        },
        **common,
    )
    return Database(engine)


def _install_sqlite_hooks(engine: Engine, *, auto_checkpoint: bool) -> None:
    """WAL, foreign keys, the filter functions (REGEXP, muster_incidr), the quantile
    aggregates (`muster.db.sqlite_functions`) and explicit BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if not auto_checkpoint:  # a WalCheckpointer thread does it
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        register_sql_functions(dbapi_connection)
        register_quantile_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
