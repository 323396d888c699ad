"""Entity correlation: does an alert share enough with an open incident to join it? Pure.

Under an entity rule an alert is scored against every incident that holds one of its
entities (`EntityFacts.holders`, bounded per entity by the caller): per entity kind the
highest weight of the entities they share (`muster.grouping.commonness.weight`; the three
hashes of one file or two addresses of one proxy are one piece of evidence, not several),
summed over the kinds. The alert joins the highest-scoring incident whose score reaches the
rule's threshold and that could take it (not RESOLVED, grouping allowed, under the rule's
maximum, first alert within the window); ties go to the newest incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from muster.grouping.entity_keys import EntityKey

if TYPE_CHECKING:
    from muster.grouping.decision import Candidate


@dataclass(frozen=True, slots=True)
class EntityFacts:
    """What an alert names that some incident holds, each such key's weight, the incidents
    holding each key, and whether the alert names any entity at all."""

    keys: Sequence[EntityKey]
    weights: Mapping[str, float]
    holders: Mapping[str, Sequence[Candidate]]
    names_any: bool = True


@dataclass(slots=True)
class Match:
    """The entities one incident shares with the alert, best per kind, and the score."""

    best: dict[str, tuple[EntityKey, float]] = field(default_factory=dict)
    shared: list[tuple[EntityKey, float]] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The sum over kinds of the best weight of that kind."""
        return round(sum(w for _, w in self.best.values()), 3)

    def add(self, key: EntityKey, weight: float) -> None:
        """Count one shared entity."""
        self.shared.append((key, weight))
        held = self.best.get(key.kind)
        if held is None or weight > held[1]:
            self.best[key.kind] = (key, weight)


def score_candidates(
    facts: EntityFacts, refusal: Callable[[Candidate], str | None]
) -> tuple[dict[uuid.UUID, float], dict[uuid.UUID, Candidate], list[str]]:
    """The score of each incident holding a key of the alert (incidents `refusal` turns
    down are left out and their refusals returned), and the incidents by id."""
    per: dict[uuid.UUID, dict[str, float]] = {}
    seen: dict[uuid.UUID, Candidate] = {}
    refused: set[uuid.UUID] = set()
    refusals: list[str] = []
    for key in facts.keys:
        cands = facts.holders.get(key.key)
        weight = facts.weights.get(key.key, 0.0)
        if not cands or weight <= 0:
            continue
        for cand in cands:
            kinds = per.get(cand.id)
            if kinds is None:
                if cand.id in refused:
                    continue
                why = refusal(cand)
                if why:
                    refused.add(cand.id)
                    refusals.append(why)
                    continue
                kinds = per[cand.id] = {}
                seen[cand.id] = cand
            if weight > kinds.get(key.kind, 0.0):
                kinds[key.kind] = weight
    scores = {incident_id: round(sum(kinds.values()), 3) for incident_id, kinds in per.items()}
    return scores, seen, refusals[:10]


def match_of(facts: EntityFacts, incident_id: uuid.UUID) -> Match:
    """What the alert shares with one incident (for the reason)."""
    match = Match()
    for key in facts.keys:
        for cand in facts.holders.get(key.key, ()):
            if cand.id == incident_id:
                match.add(key, facts.weights.get(key.key, 0.0))
                break
    return match


def entity_reason(
    decision: str,
    rule_name: str,
    rule_id: str,
    match: Match | None,
    number: int | None,
    threshold: float,
    window: str,
    refusals: Sequence[str],
) -> dict[str, Any]:
    """The `groupingReason` of a join (or of the near miss that opened a new incident)."""
    entities = (
        [{"kind": k.kind, "value": k.value, "weight": w} for k, w in _listed(match)]
        if match
        else []
    )
    score = match.score if match else 0.0
    if decision == "attached":
        names = ", ".join(f"{e['kind']} {e['value']!r} ({e['weight']})" for e in entities)
        detail = (
            f"joined incident #{number}: shares {names}; score {score} >= {threshold} "
            f"within {window}"
        )
    elif match is not None:
        detail = (
            f"best match incident #{number} scored {score} < {threshold}; "
            "no incident shares enough strong entities"
        )
    else:
        detail = f"no open incident shares an entity within {window}"
    if refusals:
        detail += " (" + "; ".join(dict.fromkeys(refusals)) + ")"
    return {
        "decision": decision,
        "rule": rule_name,
        "ruleId": rule_id,
        "strategy": "entities",
        "entities": entities,
        "score": score,
        "threshold": threshold,
        "key": {},
        "detail": detail,
    }


def _listed(match: Match) -> list[tuple[EntityKey, float]]:
    """The shared entities, strongest first, each once."""
    seen: dict[str, tuple[EntityKey, float]] = {}
    for key, weight in sorted(match.shared, key=lambda kw: -kw[1]):
        seen.setdefault(key.key, (key, weight))
    return list(seen.values())[:20]
