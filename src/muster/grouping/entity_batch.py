"""The entity side of one ingest batch, in memory. Pure (the repository loads and saves it).

Built from what the index holds for the batch's entity keys (a bounded number of recent
incidents per key, with the subject that named the key there) and the commonness of those
keys. Alerts are then decided in order; after each decision `record` adds what the alert
taught: its keys now point at its incident (so later alerts of the same batch can join it)
and its subject counts towards each key's spread (so a NAT address that shows up with fifty
hosts in one batch is common by the tenth). What changed is written once at the end:
new (entity, incident) pairs and the commonness of entities now seen with several subjects.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.grouping.commonness import SAMPLE_CAP, Seen, observe, weight
from muster.grouping.correlation import EntityFacts
from muster.grouping.decision import Candidate
from muster.grouping.entity_keys import EntityKey, subject_of

HOLDERS_PER_KEY = 4  # incidents considered per entity: the most recent
# An entity this common is not looked up nor indexed: alone it joins nothing, and what it
# adds to a score (0.09 for a saturated address, 0.31 for a saturated host) changes little.
LOOKUP_WEIGHT = 0.35


def worth_looking_up(key: EntityKey, seen: Seen | None) -> bool:
    """False for an entity already known to be too common to weigh in (`LOOKUP_WEIGHT`)."""
    return seen is None or weight(key.kind, seen.spread) >= LOOKUP_WEIGHT


def too_common(alert_keys: Sequence[Sequence[EntityKey]], seen: Mapping[str, Seen]) -> set[str]:
    """The keys the alerts name that are not `worth_looking_up`."""
    distinct = {k.key: k for keys in alert_keys for k in keys}
    return {key for key, k in distinct.items() if not worth_looking_up(k, seen.get(key))}


@dataclass(frozen=True, slots=True)
class Held:
    """One index entry: an incident holds an entity, first named there by `subject`."""

    key: str
    incident_id: uuid.UUID
    subject: str | None


class EntityBatch:
    """What the batch's alerts name, which incidents hold each key, and what is learned."""

    def __init__(
        self,
        alert_keys: Sequence[Sequence[EntityKey]],
        held: Iterable[Held],
        seen: Mapping[str, Seen],
        subjects: Sequence[str | None] | None = None,
        skipped: set[str] | None = None,
    ) -> None:
        self.alert_keys = alert_keys
        # too common to look up or index (`too_common`, unless the caller has it); still counted
        self.skipped = too_common(alert_keys, seen) if skipped is None else skipped
        # what each alert is about (default: its first host or account)
        self.subjects = list(subjects or [subject_of(keys) for keys in alert_keys])
        self.holders: dict[str, list[uuid.UUID]] = defaultdict(list)
        self.pairs: set[tuple[str, uuid.UUID]] = set()
        self.known: dict[str, set[str]] = defaultdict(set)  # subjects seen with each key
        for entry in held:
            self.pairs.add((entry.key, entry.incident_id))
            if entry.incident_id not in self.holders[entry.key]:
                self.holders[entry.key].append(entry.incident_id)
            if entry.subject is not None:
                self.known[entry.key].add(entry.subject)
        self.seen: dict[str, Seen] = dict(seen)
        self.kinds: dict[str, str] = {}
        self.batch_subjects: dict[str, set[str]] = defaultdict(set)
        self.new_pairs: list[tuple[str, uuid.UUID, datetime, str | None]] = []
        self.latest: dict[str, datetime] = {}
        self._spreads: dict[str, int] = {}  # `spread` of each key until its subjects change

    def spread(self, key: str) -> int:
        """Distinct subjects the entity was seen with so far (the stored sample, the index
        entries read for this batch, and the alerts of the batch decided before)."""
        spread = self._spreads.get(key)
        if spread is None:
            spread = self._spreads[key] = self._spread(key)
        return spread

    def _spread(self, key: str) -> int:
        seen = self.seen.get(key)
        subjects = self.known.get(key, set()) | self.batch_subjects.get(key, set())
        if seen is None:
            return len(subjects)
        if seen.saturated:
            return seen.spread
        return max(len(seen.subjects | subjects), seen.prior)

    def facts(self, index: int, live: Mapping[uuid.UUID, Candidate]) -> EntityFacts:
        """What the entities rules decide alert `index` on, with incidents as they are now."""
        holders = self.holders
        named = self.alert_keys[index]
        keys = [k for k in named if k.key in holders]
        return EntityFacts(
            keys,
            {k.key: weight(k.kind, self.spread(k.key)) for k in keys},
            {k.key: [live[i] for i in holders[k.key] if i in live] for k in keys},
            bool(named),
        )

    def record(
        self, index: int, incident_id: uuid.UUID, first_alert_at: datetime, at: datetime
    ) -> None:
        """Account alert `index` (event time `at`) joining or opening `incident_id`."""
        subject = self.subjects[index]
        for key in self.alert_keys[index]:
            self.kinds[key.key] = key.kind
            latest = self.latest.get(key.key)
            self.latest[key.key] = at if latest is None else max(latest, at)
            if subject is not None:
                subjects = self.batch_subjects[key.key]
                if subject not in subjects and len(subjects) < SAMPLE_CAP:
                    subjects.add(subject)
                    self._spreads.pop(key.key, None)
            pair = (key.key, incident_id)
            if pair in self.pairs or key.key in self.skipped:
                continue
            self.pairs.add(pair)
            self.new_pairs.append((key.key, incident_id, first_alert_at, subject))
            holders = self.holders[key.key]
            holders.append(incident_id)
            if len(holders) > HOLDERS_PER_KEY:
                del holders[0]

    def index_rows(self, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
        """The (entity, incident) pairs the batch added, as `entity_incidents` rows."""
        return [
            {
                "tenant_id": tenant_id,
                "incident_id": incident_id,
                "entity_key": key,
                "first_alert_at": first_alert_at,
                "subject": subject,
            }
            for key, incident_id, first_alert_at, subject in self.new_pairs
        ]

    def commonness_rows(self, tenant_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
        """`entity_commonness` rows that changed: entities now seen with several subjects."""
        rows = []
        for key, batch_subjects in self.batch_subjects.items():
            before = self.seen.get(key)
            subjects = self.known.get(key, set()) | batch_subjects
            after = observe(before, sorted(subjects), self.latest[key])
            if after is before or (before is None and len(after.subjects) < 2):
                continue
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "entity_key": key,
                    "kind": self.kinds[key],
                    "subjects": sorted(after.subjects),
                    "prior": after.prior,
                    "since": after.since,
                    "updated_at": now,
                }
            )
        return rows
