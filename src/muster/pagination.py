"""Keyset (cursor) pagination shared by every list endpoint."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from muster.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class SortKey:
    """A column to sort by, with `id` as the tie breaker."""

    name: str
    column: InstrumentedAttribute[Any]
    descending: bool


def encode_cursor(sort: str, value: Any, ident: uuid.UUID) -> str:
    """An opaque cursor pointing just after (value, id) under `sort`."""
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = orjson.dumps([sort, value, str(ident)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    """Return (value, id) of a cursor made for `sort`; InvalidInput if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        made_for, value, ident = orjson.loads(base64.urlsafe_b64decode(padded))
        if made_for != sort:
            raise ValueError("sort changed")
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        return value, uuid.UUID(ident)
    except Exception:  # any malformed cursor is the client's error
        raise InvalidInput.field("cursor", "is not a cursor from this list and sort") from None


def apply_keyset(
    stmt: Select[Any], key: SortKey, id_column: Any, cursor: str | None, limit: int
) -> Select[Any]:
    """Order by (key, id) and start after `cursor`; fetch one extra row to detect more."""
    order: list[ColumnElement[Any]]
    if key.descending:
        order = [key.column.desc(), id_column.desc()]
    else:
        order = [key.column.asc(), id_column.asc()]
    if cursor:
        value, ident = decode_cursor(cursor, key.name)
        pair = tuple_(key.column, id_column)
        after = tuple_(literal(value), literal(ident, id_column.type))
        stmt = stmt.where(pair < after if key.descending else pair > after)
    return stmt.order_by(*order).limit(limit + 1)


def page(rows: list[Any], key: SortKey, limit: int) -> tuple[list[Any], str | None]:
    """Cut the extra row off and return (items, nextCursor)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(key.name, getattr(last, key.column.key), last.id)
