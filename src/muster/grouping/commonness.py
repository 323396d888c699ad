"""How common an entity is in a tenant, and what that makes it worth as evidence. Pure.

An entity's *spread* is the number of distinct subjects (the host an alert is about, or its
account when it names no host) it has been seen with over the lookback. A workstation's
own name, a user's account or a dropped file's hash are seen with one or a few subjects; a
NAT or proxy address, a domain controller, `SYSTEM` or the hash of `powershell.exe` with
dozens. The spread is learned at ingest: each entity keeps a sample of the subjects it was
seen with (exact up to `SAMPLE_CAP`; beyond that it is common whatever the exact number).
The lookback is two periods: when a period of `LOOKBACK` ends, its count is kept as `prior`
and a new sample starts, so an entity that stopped being common regains weight after at
most two lookbacks.

weight = strength(kind) * rarity(spread), rarity = 1 up to the kind's free subjects, then
sqrt(free / spread). A host, account or hash keeps full weight up to `FREE_SUBJECTS` (3)
subjects (an attack moving over a few machines), is halved at 12 and at 0.31 by 32; an
address or domain is already shared at its second subject (0.71 of its weight at 2, half at
4): with the default threshold 0.5 it can join alone only while one subject has shown it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from muster.grouping.entity_keys import ACCOUNT, DOMAIN, FILEHASH, HOST, IP

SAMPLE_CAP = 32
FREE_SUBJECTS = 3
LOOKBACK = timedelta(days=7)

# How much one shared entity of a kind says, before commonness: a host, an account and a
# file hash name the subject or the tool of an attack; addresses and domains are shared by
# design (NAT, proxies, CDNs) and need a second piece of evidence.
KIND_STRENGTH: Mapping[str, float] = MappingProxyType(
    {HOST: 1.0, ACCOUNT: 1.0, FILEHASH: 1.0, IP: 0.5, DOMAIN: 0.5}
)


@dataclass(frozen=True, slots=True)
class Seen:
    """What the tenant knows about one entity: subjects of this period, count of the last."""

    subjects: frozenset[str]
    prior: int
    since: datetime

    @property
    def spread(self) -> int:
        """Distinct subjects over the lookback (at least those of the current period)."""
        return max(len(self.subjects), self.prior)

    @property
    def saturated(self) -> bool:
        """True when the sample is full: more subjects change nothing."""
        return len(self.subjects) >= SAMPLE_CAP


def rarity(spread: int, free: int = FREE_SUBJECTS) -> float:
    """1.0 for an entity seen with at most `free` subjects, less the more it is."""
    if spread <= free:
        return 1.0
    return math.sqrt(free / spread)


def weight(kind: str, spread: int) -> float:
    """What sharing this entity counts towards a join (rounded to 3 places)."""
    strength = KIND_STRENGTH.get(kind, 0.0)
    free = FREE_SUBJECTS if strength >= 1.0 else 1
    return round(strength * rarity(spread, free), 3)


def observe(seen: Seen | None, subjects: Iterable[str], at: datetime) -> Seen:
    """`seen` after the entity is seen with `subjects` at `at` (a new period when the current
    one is over `LOOKBACK`)."""
    if seen is None:
        return Seen(frozenset(list(dict.fromkeys(subjects))[:SAMPLE_CAP]), 0, at)
    if at - seen.since > LOOKBACK:
        fresh = frozenset(list(dict.fromkeys(subjects))[:SAMPLE_CAP])
        return Seen(fresh, len(seen.subjects), at)
    if seen.saturated:
        return seen
    merged = set(seen.subjects)
    for subject in subjects:
        if len(merged) >= SAMPLE_CAP:
            break
        merged.add(subject)
    if len(merged) == len(seen.subjects):
        return seen
    return Seen(frozenset(merged), seen.prior, seen.since)
