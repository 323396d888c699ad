"""JSON text in and out: orjson's speed, with integers beyond 64 bits kept exact.

orjson reads integers outside the 64-bit range as floats and refuses to write them. Detection
products do send such numbers (128-bit ids, counters), and `raw` must stay what was sent, so
text with a run of 19+ digits takes the standard library's exact (slower) path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import orjson

# A number literal of 19+ digits: after `:`, `[` or `,` (digits inside strings rarely follow).
_LONG_NUMBER = re.compile(r"[:\[,]\s*-?\d{19,}")
# For bytes (request bodies): digits marked "0", everything else " ", then runs of 19 found
# with `bytes.find`, ten times faster than the regex over a megabyte.
_DIGITS_MARKED = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_DIGIT_RUN = b"0" * 19
_BEFORE_NUMBER = frozenset(b":[,")
_SPACE = frozenset(b" \t\r\n")
MAX_STORED_DEPTH = 254  # what orjson writes; the exact path keeps the same limit


class JSONTextError(ValueError):
    """The text is not JSON muster can take (malformed, invalid UTF-8, nested too deeply)."""


def loads(text: bytes | str) -> Any:
    """Parse JSON strictly (UTF-8, no NaN); integers of any size stay exact."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise JSONTextError(str(exc)) from None
    long_number = _holds_long_number(text) if isinstance(text, bytes) else _LONG_NUMBER.search(text)
    if long_number:
        try:
            value = json.loads(text)
        except RecursionError:
            raise JSONTextError("nested too deeply") from None
    return value


def _holds_long_number(text: bytes) -> bool:
    """True if a run of 19+ digits follows `:`, `[` or `,` (spaces, then at most a minus sign
    right before the digits, between): what `_LONG_NUMBER` finds, without running a regex over
    every byte."""
    marked = text.translate(_DIGITS_MARKED)
    at = marked.find(_DIGIT_RUN)
    while at != -1:
        before = at - 1
        if before >= 0 and text[before] == 0x2D:  # "-"
            before -= 1
        while before >= 0 and text[before] in _SPACE:
            before -= 1
        if before >= 0 and text[before] in _BEFORE_NUMBER:
            return True
        end = marked.find(b" ", at)
        if end == -1:
            return False
        at = marked.find(_DIGIT_RUN, end)
    return False


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Serialise compactly; integers of any size stay exact; too deep a value fails."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(value, option=option).decode()
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise JSONTextError(str(exc)) from None
    if depth(value) > MAX_STORED_DEPTH:
        raise JSONTextError(f"nested deeper than {MAX_STORED_DEPTH} levels")
    try:
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys, default=str
        )
    except RecursionError:
        raise JSONTextError(f"nested deeper than {MAX_STORED_DEPTH} levels") from None


def depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest
