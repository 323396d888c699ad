"""JSON values of an export record back to column values, checked against the column's type.

An export writes ids as strings, timestamps as ISO-8601 text and JSON columns as their value;
`RowDecoder` turns one record's `data` back into what an insert binds, and names the column
and the problem when a value cannot be stored (wrong type, too long, null where none is
allowed), so a damaged or hand-edited file is refused before the database sees it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, String, Table, Uuid

from muster.db.types import UTCDateTime

Convert = Callable[[Any], Any]


class BadValue(ValueError):
    """A value that does not fit its column."""


def _as_uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise BadValue("expected an id (a uuid string)")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadValue(f"{value!r} is not a uuid") from None


def _as_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise BadValue("expected an ISO-8601 timestamp")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise BadValue(f"{value!r} is not an ISO-8601 timestamp") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue("expected true or false")
    return value


def _as_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadValue("expected an integer")
    return value


def _as_text(length: int | None) -> Convert:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise BadValue("expected a string")
        if length is not None and len(value) > length:
            raise BadValue(f"longer than {length} characters")
        return value

    return convert


def converter(column: Column[Any]) -> Convert | None:
    """How a JSON value becomes the value of `column` (None: as it is, for JSON columns)."""
    kind = column.type
    if isinstance(kind, JSON):
        return None
    if isinstance(kind, Uuid):
        return _as_uuid
    if isinstance(kind, UTCDateTime):
        return _as_datetime
    if isinstance(kind, Boolean):
        return _as_bool
    if isinstance(kind, Integer):
        return _as_int
    if isinstance(kind, String):  # Text too
        return _as_text(kind.length)
    raise TypeError(f"{column.table.name}.{column.name}: no export codec for {kind!r}")


def _takes_null(column: Column[Any]) -> bool:
    """Whether None may be stored in `column`."""
    return bool(column.nullable) or isinstance(column.type, JSON)


class RowDecoder:
    """Decodes the records of one type whose columns are `names` (all columns of `table`)."""

    def __init__(self, table: Table, names: Sequence[str]) -> None:
        self.table = table
        self.names = tuple(names)
        self._expected = frozenset(names)
        # a JSON column stores JSON null even where SQL NULL is not allowed
        self._plan = [
            (name, converter(table.c[name]), _takes_null(table.c[name])) for name in names
        ]

    def decode(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The row to insert; raises `BadValue` naming the column at the first problem."""
        if data.keys() != self._expected:
            expected, given = self._expected, set(data)
            missing, extra = sorted(expected - given), sorted(given - expected)
            raise BadValue(f"columns differ from the header's: missing {missing}, extra {extra}")
        row: dict[str, Any] = {}
        name = ""
        try:
            for name, convert, nullable in self._plan:
                value = data[name]
                if value is None:
                    if not nullable:
                        raise BadValue("null is not allowed")
                    row[name] = None
                else:
                    row[name] = value if convert is None else convert(value)
        except BadValue as exc:
            raise BadValue(f"{name}: {exc}") from None
        return row
