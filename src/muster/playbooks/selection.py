"""Which playbook runs on an incident, and why (pure).

The enabled playbooks of the trigger are tried by weight, highest first, ties by name; the first
whose criteria match the incident, or which has no criteria, runs. The reason names the
playbook, its weight and criteria, and every playbook tried before it, for the timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from muster.query import Predicate

__all__ = ["Candidate", "Selection", "select"]

MAX_CRITERIA_SHOWN = 200  # characters of criteria quoted in a reason


class Candidate(NamedTuple):
    """An enabled playbook as selection sees it; `criteria` is the text, for the reason only."""

    name: str
    weight: int
    predicate: Predicate | None
    id: Any
    criteria: str | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    """The playbook to run (None: none) and the reason, with the names tried before it."""

    playbook_id: Any | None
    name: str | None
    weight: int | None
    reason: str
    tried: tuple[str, ...]
    decided_at: datetime

    @property
    def selected(self) -> bool:
        """Whether a playbook runs."""
        return self.name is not None


def select(
    candidates: Iterable[Candidate | tuple[str, int, Predicate | None, Any]],
    incident_view: Mapping[str, Any],
    now: datetime,
    *,
    trigger: str = "incident",
) -> Selection:
    """The first candidate, by weight descending then name, whose criteria match the incident
    (API field names, `alerts` included for `alerts.<field>`); a candidate without criteria
    always matches."""
    ordered = sorted((Candidate(*c) for c in candidates), key=lambda c: (-c.weight, c.name))
    if not ordered:
        return Selection(None, None, None, f"no enabled {trigger} playbooks", (), now)
    tried: list[Candidate] = []
    for candidate in ordered:
        if candidate.predicate is None or candidate.predicate(incident_view):
            reason = _chosen(candidate)
            if tried:
                reason += "; tried before it: " + ", ".join(
                    f"{c.name!r} (criteria did not match)" for c in tried
                )
            return Selection(
                candidate.id,
                candidate.name,
                candidate.weight,
                reason,
                tuple(c.name for c in tried),
                now,
            )
        tried.append(candidate)
    listed = ", ".join(f"{c.name!r} (weight {c.weight})" for c in tried)
    reason = f"no enabled {trigger} playbook's criteria match (tried: {listed})"
    return Selection(None, None, None, reason, tuple(c.name for c in tried), now)


def _chosen(candidate: Candidate) -> str:
    head = f"playbook {candidate.name!r} (weight {candidate.weight})"
    if candidate.predicate is None:
        return f"{head} has no criteria, so it matches every incident"
    criteria = candidate.criteria or "its criteria"
    if len(criteria) > MAX_CRITERIA_SHOWN:
        criteria = criteria[: MAX_CRITERIA_SHOWN - 1] + "…"
    return f"{head} matches: {criteria}"
