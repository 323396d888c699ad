"""Background WAL checkpoints for SQLite, off the writer's commit path.

In WAL mode SQLite copies the log back into the database file (a checkpoint, with an fsync)
inside whichever commit pushes the log past 1,000 pages. On the ingest path that is every
second or third 1,000-alert batch, and it roughly doubles that commit. A server instead turns
the automatic checkpoint off and lets a `WalCheckpointer` thread run a `PASSIVE` checkpoint
every `interval` seconds on its own connection: it never blocks readers or the writer, and
the log holds at most a few seconds of writes. When the thread stops it truncates the log.
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger("muster.db")


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite database file every `interval` seconds."""

    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="muster-wal-checkpoint", daemon=True)

    def start(self) -> WalCheckpointer:
        """Start checkpointing; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread after a final checkpoint that truncates the log."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(connection, "PASSIVE")
            self.checkpoint(connection, "TRUNCATE")
        finally:
            connection.close()

    @staticmethod
    def checkpoint(connection: sqlite3.Connection, mode: str) -> tuple[int, int, int] | None:
        """Run one checkpoint; (busy, log pages, pages copied), or None if it failed."""
        try:
            busy, pages, copied = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:  # a checkpoint that cannot run now runs next time
            log.warning("wal_checkpoint_failed", mode=mode, error=str(exc))
            return None
        return busy, pages, copied
