"""Portable column types: the same models run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from muster import jsontext


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert aware values to UTC; SQLite stores them naive, PostgreSQL as timestamptz."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver gave."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


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
