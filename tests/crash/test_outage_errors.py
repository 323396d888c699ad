"""`muster.db.outage.database_unavailable` sorts real driver errors: what a retry may cure
(503 with Retry-After, worker back-off) from what it cannot (a bug)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from muster.db.outage import database_unavailable, describe
from tests.live.processes import free_port


@pytest.fixture()
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new SQLite file that gives up on a lock at once."""
    engine = create_engine(f"sqlite:///{tmp_path / 'o.db'}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    yield engine
    engine.dispose()


def raised(engine: Engine, sql: str) -> DBAPIError:
    """The error running `sql` raises."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(sql))
    return caught.value


class TestUnavailable:
    def test_a_refused_connection(self) -> None:
        engine = create_engine(f"postgresql+psycopg://muster@127.0.0.1:{free_port()}/muster")
        exc = raised(engine, "SELECT 1")
        assert isinstance(exc, OperationalError)
        assert database_unavailable(exc)
        assert "127.0.0.1" in describe(exc) and "\n" not in describe(exc)

    def test_a_locked_sqlite_file(self, sqlite_file: Engine) -> None:
        holder = sqlite3.connect(str(sqlite_file.url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            exc = raised(sqlite_file, "INSERT INTO t VALUES (1)")
        finally:
            holder.close()
        assert "locked" in describe(exc)
        assert database_unavailable(exc)

    def test_no_pooled_connection_free_in_time(self, tmp_path: Path) -> None:
        engine = create_engine(
            f"sqlite:///{tmp_path / 'p.db'}", pool_size=1, max_overflow=0, pool_timeout=0.1
        )
        try:
            with engine.connect(), pytest.raises(PoolTimeout) as caught:
                engine.connect()
        finally:
            engine.dispose()
        assert database_unavailable(caught.value)

    def test_a_connection_the_driver_lost(self) -> None:
        lost = InterfaceError(
            "SELECT 1", {}, Exception("the connection is closed"), connection_invalidated=True
        )
        assert database_unavailable(lost)


class TestNotAnOutage:
    def test_a_bad_statement_on_sqlite(self, sqlite_file: Engine) -> None:
        for sql in ("SELEKT 1", "SELECT * FROM no_such_table"):
            exc = raised(sqlite_file, sql)
            assert isinstance(exc, OperationalError)  # how SQLite files it
            assert not database_unavailable(exc), sql

    def test_a_constraint(self, sqlite_file: Engine) -> None:
        exc = raised(sqlite_file, "INSERT INTO t VALUES (1), (1)")
        assert isinstance(exc, IntegrityError)
        assert not database_unavailable(exc)

    def test_an_interface_error_with_the_connection_alive(self) -> None:
        bad_parameter = InterfaceError("SELECT ?", {}, Exception("Error binding parameter 1"))
        assert not database_unavailable(bad_parameter)

    def test_anything_else(self) -> None:
        assert not database_unavailable(ValueError("no"))
