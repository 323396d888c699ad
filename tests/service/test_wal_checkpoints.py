"""SQLite WAL checkpoints run in a background thread for long-lived writers (the server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from muster.config import Settings
from muster.db.engine import Database, create_db_engine


def _settings(path: Path, interval: float) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", sqlite_checkpoint_seconds=interval)


def _fill(db: Database, rows: int = 64) -> None:
    engine = db.engine
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS blob (id INTEGER PRIMARY KEY, body TEXT)"))
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO blob (body) VALUES (:body)"), [{"body": "x" * 16_000}] * rows
        )


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_background_thread_copies_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bg.db"
    db = create_db_engine(_settings(path, 0.05), background_checkpoints=True)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        before = path.stat().st_size if path.exists() else 0
        _fill(db)
        # the commit left ~1 MB in the log; the checkpointer copies it into the file
        assert _wait_for(lambda: path.stat().st_size > before + 900_000)
    finally:
        db.dispose()
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # truncated by the final checkpoint


def test_short_lived_engines_leave_checkpoints_to_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    db = create_db_engine(_settings(path, 0.05))  # what one-shot CLI commands use
    try:
        assert db.checkpointer is None
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        db.dispose()


def test_zero_interval_turns_the_thread_off(tmp_path: Path) -> None:
    db = create_db_engine(_settings(tmp_path / "zero.db", 0), background_checkpoints=True)
    try:
        assert db.checkpointer is None
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        db.dispose()


def test_a_log_past_its_limit_is_emptied_while_readers_keep_reading(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = create_db_engine(_settings(path, 0.05), background_checkpoints=True)
    assert db.checkpointer is not None
    db.checkpointer.max_log_pages = 100  # ~400 KB
    wal = Path(f"{path}-wal")
    stop = threading.Event()

    def read_without_pause() -> None:
        # overlapping read transactions: a PASSIVE checkpoint alone never resets the log
        while not stop.is_set():
            with db.engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM blob")).scalar()

    try:
        _fill(db, rows=8)
        readers = [threading.Thread(target=read_without_pause) for _ in range(3)]
        for reader in readers:
            reader.start()
        largest = 0
        for _ in range(20):  # ~2.5 MB of writes, in the log's terms
            _fill(db, rows=8)
            largest = max(largest, wal.stat().st_size)
        assert largest > 400_000  # the log did go past its limit
        assert _wait_for(lambda: wal.stat().st_size < 400_000)
        stop.set()
        for reader in readers:
            reader.join()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM blob")).scalar() == 8 * 21
    finally:
        stop.set()
        db.dispose()
