"""MITRE ATT&CK from vendor spellings: one tactic and one technique for the alert, all as tags.

Vendors give tactics and techniques as JSON lists, as JSON lists inside a text cell
(`'["T1003"]'`), as comma or semicolon lists (`"LateralMovement, Impact"`, `"T1003;T1528"`),
by id (`TA0008`) or by name. `resolve` keeps the ones the shipped ATT&CK catalogue knows
(vendor placeholders such as `Unknown` and revoked ids are dropped: the original stays in
`raw`) and decides:
- mitreTactic: the first tactic given; with none, the first tactic of the first technique;
- mitreTechnique: the first technique of that tactic (else the first technique), narrowed to a
  sub-technique of it when one is given;
- tags: `mitre:TA0008` for every tactic and `mitre:T1021` / `mitre:T1021.002` for every
  technique, so filters and grouping can use all of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from muster import jsontext
from muster.attack import (
    Technique,
    UnknownTactic,
    UnknownTechnique,
    normalise_tactic,
    tactic_id,
    technique,
)

__all__ = ["Mitre", "listed", "resolve"]

_SPLIT = re.compile(r"[,;|]")


@dataclass(frozen=True, slots=True)
class Mitre:
    """The alert's tactic name and technique id, and a tag for every one given."""

    tactic: str | None = None
    technique: str | None = None
    tags: list[str] = field(default_factory=list)


def listed(value: Any) -> list[str]:
    """The items of a list, a JSON list in text, or a comma/semicolon list; blanks dropped."""
    if value is None:
        return []
    if isinstance(value, list):
        return [item for v in value for item in listed(v)]
    if not isinstance(value, str):
        return []
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            return listed(jsontext.loads(stripped))
        except jsontext.JSONTextError:
            stripped = stripped.strip("[]")
    return [part.strip().strip("\"'") for part in _SPLIT.split(stripped) if part.strip()]


def resolve(tactics: Iterable[str], techniques: Iterable[str]) -> Mitre:
    """The alert's MITRE fields from every tactic and technique the vendor named."""
    tactic_names: dict[str, str] = {}  # name -> id, in the order given
    for value in tactics:
        try:
            name = normalise_tactic(value)
        except UnknownTactic:
            continue
        tactic_names.setdefault(name, tactic_id(name))
    known: list[Technique] = []
    for value in techniques:
        try:
            known.append(technique(value))
        except UnknownTechnique:
            continue
    known = list({t.id: t for t in known}.values())
    tactic = next(iter(tactic_names), None)
    if tactic is None and known:
        tactic = known[0].tactics[0]
        tactic_names[tactic] = tactic_id(tactic)
    chosen = _technique_for(tactic, known)
    tags = [f"mitre:{tid}" for tid in tactic_names.values()]
    tags += [f"mitre:{t.id}" for t in known]
    return Mitre(tactic, chosen, tags)


def _technique_for(tactic: str | None, known: list[Technique]) -> str | None:
    """The first technique of the tactic (or the first one), narrowed to a sub-technique."""
    if not known:
        return None
    parents = [t for t in known if not t.is_subtechnique] or known
    of_tactic = [t for t in parents if tactic in t.tactics]
    chosen = (of_tactic or parents)[0]
    base = chosen.parent_id or chosen.id
    narrower = [t for t in known if t.parent_id == base]
    return narrower[0].id if narrower and not chosen.is_subtechnique else chosen.id
