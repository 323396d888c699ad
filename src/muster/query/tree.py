"""The typed syntax tree of a filter expression: frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

PathPart = str | int


@dataclass(frozen=True, slots=True)
class Path:
    """A field path such as `raw.Entities[0].Address`, split into keys and indexes."""

    parts: tuple[PathPart, ...]
    text: str


@dataclass(frozen=True, slots=True)
class RelTime:
    """`now() + offset` (`-24h` is an offset of minus one day)."""

    offset: timedelta


Scalar = str | int | float | bool | None | datetime | RelTime


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison: `path op value`; `values` holds an `in` list, `value` anything else."""

    path: Path
    op: str  # = != > < >= <= contains !contains matches in !in incidr !incidr exists
    value: Scalar = None
    values: tuple[Scalar, ...] = ()
    line: int = 1
    column: int = 1


@dataclass(frozen=True, slots=True)
class And:
    """Every item holds."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one item holds."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The item does not hold (plain two-valued negation)."""

    item: Expr


Expr = Condition | And | Or | Not

NEGATED = {"!=": "=", "!contains": "contains", "!in": "in", "!incidr": "incidr"}
ORDERING = {">", "<", ">=", "<="}


def depth(tree: Expr) -> int:
    """How deeply `and`, `or` and `not` nest in the expression (a condition alone is 0),
    measured without recursion (the tree is hostile input until it is checked)."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, And | Or):
            stack.extend((item, level + 1) for item in node.items)
        elif isinstance(node, Not):
            stack.append((node.item, level + 1))
    return deepest


def uses_now(tree: Expr) -> bool:
    """Whether the expression holds a relative time (its meaning moves with the clock)."""
    if isinstance(tree, And | Or):
        return any(uses_now(item) for item in tree.items)
    if isinstance(tree, Not):
        return uses_now(tree.item)
    return any(isinstance(v, RelTime) for v in (tree.value, *tree.values))
