"""SQL functions SQLite lacks, registered on every connection (`muster.db.engine`).

They use the same code as the Python back end, so both agree by construction.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from functools import lru_cache
from typing import Any

import regex

from muster.query.evaluate import in_network, regex_search
from muster.query.fields import MAX_PATTERN
from muster.query.patterns import repeat_problem


@lru_cache(maxsize=256)
def _pattern(text: str) -> regex.Pattern[str] | None:
    if len(text) > MAX_PATTERN or repeat_problem(text) is not None:
        return None
    try:
        return regex.compile(text)
    except regex.error:
        return None


@lru_cache(maxsize=256)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def sqlite_regexp(pattern: Any, value: Any) -> int | None:
    """`value REGEXP pattern`: 1 on a match, 0 otherwise (also on timeout), NULL for NULL."""
    if value is None or pattern is None:
        return None
    compiled = _pattern(str(pattern))
    return int(compiled is not None and isinstance(value, str) and regex_search(compiled, value))


def sqlite_incidr(value: Any, network: Any) -> int | None:
    """1 when `value` is an address inside `network`, 0 otherwise (never an error)."""
    if value is None or network is None:
        return None
    net = _network(str(network))
    return int(net is not None and in_network(value, net))


def register(connection: sqlite3.Connection) -> None:
    """Install REGEXP and muster_incidr on a SQLite connection (deterministic functions)."""
    connection.create_function("regexp", 2, sqlite_regexp, deterministic=True)
    connection.create_function("muster_incidr", 2, sqlite_incidr, deterministic=True)
