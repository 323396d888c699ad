"""Engine construction: SQLite (WAL, one writer at a time) or PostgreSQL, same models."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from muster.config import Settings
from muster.db.types import dumps_json, loads_json
from muster.query.functions import register as register_sql_functions

SQLITE_POOL = 48  # covers the request thread pool (40) and the ingest writer


class Database:
    """An engine, its session factory and, on SQLite, the in-process writer gate."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        # SQLite has one writer. Queueing writers on a lock in this process is fair and avoids
        # SQLite's sleep-and-retry busy handler, which would wreck tail latency.
        self.write_gate: threading.Lock | None = (
            threading.Lock() if engine.dialect.name == "sqlite" else None
        )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def session(self) -> Session:
        """Return a new session; only `unit_of_work` should call this."""
        return self.sessions()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def create_db_engine(settings: Settings) -> Database:
    """Build the engine for `settings.database_url` with the right pragmas and pool."""
    url = make_url(settings.database_url)
    common: dict[str, Any] = {
        "echo": settings.database_echo,
        "json_serializer": dumps_json,
        "json_deserializer": loads_json,
    }
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # SQLite connections are cheap to keep: one per worker thread, never re-opened
            # (a re-opened connection pays for its PRAGMAs again).
            pool_size=max(settings.database_pool_size, SQLITE_POOL),
            max_overflow=SQLITE_POOL,
            **common,
        )
        _install_sqlite_hooks(engine)
    else:
        engine = create_engine(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=20,
            pool_pre_ping=True,
            # No server-side prepared statements: after five runs psycopg would prepare the
            # ingest lookups, and PostgreSQL then reuses a generic plan made when the tenant had
            # few alerts (a scan of all its alerts per batch; see docs/performance.md).
            connect_args={"prepare_threshold": None},
            **common,
        )
    return Database(engine)


def _install_sqlite_hooks(engine: Engine) -> None:
    """WAL, foreign keys, the filter functions (REGEXP, muster_incidr) and explicit BEGIN."""

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
        cursor.close()
        register_sql_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
