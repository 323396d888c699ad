"""Page tokens: the keyset cursor of the next page together with the window of the first
call, so that paging with moving defaults (now-24h .. now) returns each incident exactly once."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import orjson

from muster.errors import InvalidInput

TOKEN_PREFIX = "cf1."


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where the next page starts and the window the listing was first asked for."""

    cursor: str
    start: datetime
    end: datetime


def encode(token: PageToken) -> str:
    """An opaque, URL-safe page token."""
    raw = orjson.dumps([token.cursor, token.start.isoformat(), token.end.isoformat()])
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(value: str, field: str) -> PageToken:
    """The page token a previous answer gave; InvalidInput naming `field` otherwise."""
    try:
        if not value.startswith(TOKEN_PREFIX):
            raise ValueError("not ours")
        body = value[len(TOKEN_PREFIX) :]
        cursor, start, end = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if not isinstance(cursor, str):
            raise ValueError("bad cursor")
        return PageToken(cursor, datetime.fromisoformat(start), datetime.fromisoformat(end))
    except Exception:  # any malformed token is the client's error
        raise InvalidInput.field(field, "is not a page token from a previous answer") from None
