"""Which database errors mean "the database is unavailable; retry later" rather than a bug.

A stopped, restarting or unreachable database surfaces as different exceptions depending on
where it is met: a refused, dropped or timed-out connection, or a busy or locked SQLite file
(`OperationalError`); a connection the driver already lost, e.g. psycopg's "the connection is
closed" (any `DBAPIError` SQLAlchemy recognised as a disconnect: `connection_invalidated`); no
pooled connection free within `database_pool_timeout_seconds` (`TimeoutError`); a connection
the pool found dead (`DisconnectionError`). Every shell treats them alike: the API answers 503
with `Retry-After`, the console shows a 503 page, the worker backs off and tries again.

Other database errors stay what they are, bugs, even where a driver files them under
`OperationalError`: SQLite reports a bad statement ("no such table", a syntax error) as an
`OperationalError` with the generic result code SQLITE_ERROR, which no retry can cure.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["RETRY_AFTER_SECONDS", "database_unavailable", "describe"]

RETRY_AFTER_SECONDS = 5  # what a 503 tells clients to wait before trying again
SQLITE_ERROR = 1  # SQLite's primary result code for a bad statement (not an outage)


def database_unavailable(exc: BaseException) -> bool:
    """True if `exc` says the database cannot be reached now (retrying later may succeed)."""
    if isinstance(exc, PoolTimeout | DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlite_code = getattr(exc.orig, "sqlite_errorcode", None)
    return sqlite_code is None or sqlite_code & 0xFF != SQLITE_ERROR


def describe(exc: BaseException) -> str:
    """The first line of the driver's message (or of the exception's own) for the logs."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
