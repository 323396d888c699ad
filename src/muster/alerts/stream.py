"""Read alert records from a JSON array or JSON Lines stream of any size, reading it once.

A JSON array is parsed incrementally (ijson); JSON Lines line by line. The first non-blank byte
tells which (`[` is an array). A record that is not JSON, or not an object, is `Malformed` and
named by its line or item number; reading goes on after a bad line.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ijson  # type: ignore[import-untyped]
import orjson

__all__ = ["Malformed", "Record", "read_records"]


@dataclass(frozen=True, slots=True)
class Record:
    """One alert object read from the input, with where it was (`line 12`, `item 12`)."""

    where: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Malformed:
    """A record that cannot be an alert: not JSON, or not a JSON object."""

    where: str
    message: str


def read_records(stream: io.BufferedReader[Any]) -> Iterator[Record | Malformed]:
    """Every record of a JSON array or JSON Lines stream, in order, reading it only once."""
    skipped_lines = 0
    while True:
        head = stream.peek(1)
        if head.startswith(b"\xef\xbb\xbf"):
            stream.read(3)
            continue
        if not head or head.lstrip():
            break
        skipped_lines += stream.read(len(head)).count(b"\n")
    if head.lstrip().startswith(b"["):
        return _array_records(stream)
    return _line_records(stream, skipped_lines)


def _array_records(stream: io.BufferedReader[Any]) -> Iterator[Record | Malformed]:
    """The items of a top-level JSON array; a syntax error ends the input."""
    number = 0
    try:
        for number, item in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            yield _record(f"item {number}", item)
    except ijson.JSONError as exc:
        yield Malformed(f"after item {number}", f"malformed JSON: {_first_line(exc)}")


def _line_records(stream: io.BufferedReader[Any], skipped: int) -> Iterator[Record | Malformed]:
    """One record per non-blank line; a bad line is an error and reading goes on."""
    for number, line in enumerate(stream, start=skipped + 1):
        if not line.strip():
            continue
        try:
            payload = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Malformed(f"line {number}", f"malformed JSON at column {exc.colno}: {exc.msg}")
            continue
        yield _record(f"line {number}", payload)


def _record(where: str, payload: Any) -> Record | Malformed:
    """An object is a record; anything else is malformed."""
    if isinstance(payload, dict):
        return Record(where, payload)
    return Malformed(where, f"expected an alert object, got {type(payload).__name__}")


def _first_line(exc: Exception) -> str:
    """The first line of a parser error (yajl adds a picture of the context)."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
