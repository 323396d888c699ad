"""Vendor severity words and numbers on muster's 0..4 scale (0 unspecified, 1 Informational,
2 Low, 3 Medium, 4 High; vendors' Critical and above are High)."""

from __future__ import annotations

from typing import Any

__all__ = ["from_label"]

_WORDS = {
    "unknown": 0,
    "unspecified": 0,
    "none": 0,
    "informational": 1,
    "information": 1,
    "info": 1,
    "low": 2,
    "medium": 3,
    "moderate": 3,
    "high": 4,
    "critical": 4,
    "fatal": 4,
    "severe": 4,
}


def from_label(value: Any) -> int:
    """The muster severity of a word such as `High` or `informational`; 0 when unknown."""
    if not isinstance(value, str):
        return 0
    return _WORDS.get(value.strip().casefold(), 0)
