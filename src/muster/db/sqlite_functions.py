"""Nearest-rank quantile aggregates for SQLite, registered on every connection (`muster.db.engine`).

SQLite (3.40) has no percentile aggregate. These compute what PostgreSQL's
`percentile_disc(p) WITHIN GROUP (ORDER BY v)` computes: the ceil(p*n)-th smallest of the
n non-NULL values, NULL when there are none. The rank is integer arithmetic on p as a
fraction (`nearest_rank`), so a p90 of 10 values is the 9th, a median of 2 the lower one.

- `muster_quantile(v, p)`: one quantile of one measure.
- `muster_p50_p90(a, b)`: the median and p90 of two measures in one pass (one call per row
  instead of four), as the JSON text `[a50, a90, b50, b90]` (`null` for a measure without
  values), which `json_extract(q, '$[i]')` takes apart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from fractions import Fraction
from typing import Any


def nearest_rank(ordered: Sequence[Any], p: Fraction) -> Any:
    """The ceil(p*n)-th smallest of `ordered` (sorted, n > 0); rank 1 for p <= 1/n."""
    n = len(ordered)
    rank = -((-p.numerator * n) // p.denominator)  # ceil(p * n), exact
    return ordered[min(max(rank, 1), n) - 1]


def _fraction(p: Any) -> Fraction:
    """`p` (a number in [0, 1]) as an exact fraction of its decimal spelling (0.9 is 9/10)."""
    fraction = Fraction(str(p)) if isinstance(p, float) else Fraction(p)
    if not 0 <= fraction <= 1:
        raise ValueError(f"quantile {p} outside [0, 1]")
    return fraction


class Quantile:
    """`muster_quantile(v, p)`: the nearest-rank quantile p of the non-NULL values v."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.p: Any = None

    def step(self, value: Any, p: Any) -> None:
        """Collect one value (NULL values are skipped)."""
        self.p = p
        if value is not None:
            self.values.append(value)

    def finalize(self) -> Any:
        """The quantile, or NULL without values."""
        if not self.values:
            return None
        self.values.sort()
        return nearest_rank(self.values, _fraction(self.p))


_HALF, _NINE_TENTHS = Fraction(1, 2), Fraction(9, 10)


def _p50_p90(values: list[Any]) -> list[Any]:
    if not values:
        return [None, None]
    values.sort()
    return [nearest_rank(values, _HALF), nearest_rank(values, _NINE_TENTHS)]


class P50P90:
    """`muster_p50_p90(a, b)`: the medians and p90s of two measures, as JSON text."""

    def __init__(self) -> None:
        self.a: list[Any] = []
        self.b: list[Any] = []

    def step(self, a: Any, b: Any) -> None:
        """Collect one row's values (NULL values are skipped)."""
        if a is not None:
            self.a.append(a)
        if b is not None:
            self.b.append(b)

    def finalize(self) -> str:
        """`[a50, a90, b50, b90]`."""
        return json.dumps(_p50_p90(self.a) + _p50_p90(self.b))


def register(connection: sqlite3.Connection) -> None:
    """Install muster_quantile and muster_p50_p90 on a SQLite connection."""
    connection.create_aggregate("muster_quantile", 2, Quantile)  # type: ignore[arg-type]
    connection.create_aggregate("muster_p50_p90", 2, P50P90)  # type: ignore[arg-type]
