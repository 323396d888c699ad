"""Grouping rules as the page shows them, and where a move puts a rule (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from muster.errors import InvalidInput
from muster.models import GroupingRule


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One grouping rule in evaluation order."""

    id: uuid.UUID
    name: str
    strategy: str
    key_fields: Sequence[str]
    window: str
    max_alerts: int
    enabled: bool
    filter: str | None
    first: bool
    last: bool


def window_text(seconds: int) -> str:
    """A window as the largest whole unit: 90 -> 90s, 3600 -> 1h, 5400 -> 90m."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def rule_rows(rules: Sequence[GroupingRule]) -> list[RuleRow]:
    """The rules as rows, marking the first and the last (they cannot move further)."""
    return [
        RuleRow(
            r.id,
            r.name,
            str((r.extra or {}).get("strategy", "keys")),
            list(r.key_fields),
            window_text(r.window_seconds),
            r.max_alerts,
            r.enabled,
            r.filter,
            i == 0,
            i == len(rules) - 1,
        )
        for i, r in enumerate(rules)
    ]


def moved_position(rules: Sequence[GroupingRule], rule_id: uuid.UUID, direction: str) -> int | None:
    """The position that moves the rule one place up or down (None: already at that end).

    Moving up takes the previous rule's position (the service shifts that one down); moving
    down takes the place just after the next rule."""
    if direction not in ("up", "down"):
        raise InvalidInput.field("direction", "must be up or down")
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        return None
    if direction == "up":
        return rules[index - 1].position if index > 0 else None
    return rules[index + 1].position + 1 if index < len(rules) - 1 else None
