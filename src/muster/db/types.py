"""Portable column types: the same models run on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from muster import jsontext


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL stores `timestamptz`. SQLite stores the text SQLAlchemy's SQLite DATETIME uses
    (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC, so it sorts and compares as time), but written and
    read with `isoformat` / `fromisoformat` directly, which costs a fraction of the generic
    processors on the ingest path.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """UTC; as fixed-width text on SQLite, as an aware datetime on PostgreSQL."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return _sqlite_text(value)
        return _utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver gave."""
        if value is None:
            return None
        stamp: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, skip DATETIME's own processor (the value is already text)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return lambda value: None if value is None else _sqlite_text(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """On SQLite, parse the stored text with `fromisoformat` only."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        process = self.process_result_value
        return lambda value: process(value, dialect)


def _utc(value: datetime) -> datetime:
    """The same instant in UTC (a naive value is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@functools.lru_cache(maxsize=1024)
def _sqlite_text(value: datetime) -> str:
    """SQLite's stored form of an instant (cached: a batch stamps every row with one `now`)."""
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


class JSONText(str):
    """JSON that is already serialised; stored as is, never serialised twice."""

    __slots__ = ()


def dumps_json(value: Any) -> str:
    """Serialise for a JSON column (pre-serialised `JSONText` passes through untouched)."""
    if isinstance(value, JSONText):
        return str(value)
    return jsontext.dumps(value)


def loads_json(value: str | bytes) -> Any:
    """Parse a JSON column value (integers of any size stay exact)."""
    return jsontext.loads(value)


# PostgreSQL `json` (not `jsonb`) keeps the sender's text and key order: `raw` stays verbatim.
PortableJSON = JSON
