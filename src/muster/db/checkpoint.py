"""Background WAL checkpoints for SQLite, off the writer's commit path.

In WAL mode SQLite copies the log back into the database file (a checkpoint, with an fsync)
inside whichever commit pushes the log past 1,000 pages. On the ingest path that is every
second or third 1,000-alert batch, and it roughly doubles that commit. A server instead turns
the automatic checkpoint off and lets a `WalCheckpointer` thread run a `PASSIVE` checkpoint
every `interval` seconds on its own connection: it never blocks readers or the writer, and
the log holds at most a few seconds of writes. When the thread stops it truncates the log.

A `PASSIVE` checkpoint copies the log but never resets it while readers still use it, so under
a steady stream of overlapping reads (a busy console and API) the log file only grows: a soak
saw 391 MB of log beside a 110 MB database. Once the log is past `max_log_pages` the thread
runs a `TRUNCATE` checkpoint instead: it waits (at most `TRUNCATE_WAIT_MS`, holding back new
writers, never readers) until every reader is on the newest snapshot, then empties the file.
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger("muster.db")

MAX_LOG_PAGES = 16_384  # 64 MB of 4 KiB pages
TRUNCATE_WAIT_MS = 1_000  # how long a TRUNCATE checkpoint may hold back writers


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite database file every `interval` seconds."""

    def __init__(self, path: str, interval: float, max_log_pages: int = MAX_LOG_PAGES) -> None:
        self.path = path
        self.interval = interval
        self.max_log_pages = max_log_pages
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
            connection.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
            while not self._stop.wait(self.interval):
                done = self.checkpoint(connection, "PASSIVE")
                if done is not None and done[1] > self.max_log_pages:
                    self.checkpoint(connection, "TRUNCATE")
            connection.execute("PRAGMA busy_timeout=30000")
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
