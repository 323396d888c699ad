"""Ingest: drop repeats, group the rest, write it all in one transaction.

`store` takes validated alerts (`muster.alerts.batch.prepare`). The batch is decided in memory
(alerts of one batch can open and join incidents among themselves) and then written with a
handful of bulk statements, so the cost per alert stays flat as the tables grow: every lookup
is by an indexed key and bounded by the batch. Each alert carries who sent it, so batches
combined from several requests (`muster.alerts.combiner`) keep the right actor on the timeline.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.alerts.batch import Prepared, prepare
from muster.alerts.incident_writes import NewIncident, Touched, write_new, write_touched
from muster.alerts.repository import AlertRepository, StoredAlert
from muster.db.tenancy import tenant_id_of
from muster.grouping.decision import (
    ENTITIES,
    KEYS,
    AttachTo,
    Candidate,
    Keyed,
    Rule,
    applicable,
    decide,
)
from muster.grouping.entity_batch import EntityBatch
from muster.grouping.entity_repository import EntityRepository, load_entity_batch
from muster.grouping.service import active_rules
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.incidents.repository import IncidentRepository
from muster.soar.triggers import on_incidents_created


@dataclass(slots=True)
class IngestedAlert:
    """What happened to one alert, in the order it was sent."""

    alert_id: uuid.UUID
    incident_id: uuid.UUID | None
    incident_hash: str | None
    duplicate: bool
    grouping_reason: dict[str, Any] | None


@dataclass(slots=True)
class IngestReport:
    """The outcome of one batch."""

    items: list[IngestedAlert]
    opened: set[uuid.UUID]

    @property
    def incidents_created(self) -> int:
        """How many incidents the batch opened."""
        return len(self.opened)

    def part(self, start: int, end: int) -> IngestReport:
        """The report of items `start:end` alone; an incident counts as opened by the first
        part that names it."""
        earlier = {item.incident_id for item in self.items[:start]}
        items = self.items[start:end]
        return IngestReport(
            items, {i.incident_id for i in items if i.incident_id in self.opened} - earlier
        )  # type: ignore[arg-type]

    @property
    def duplicates(self) -> int:
        """How many alerts of the batch were repeats."""
        return sum(1 for item in self.items if item.duplicate)


def ingest(session: Any, payloads: Sequence[Any], actor: Actor, now: datetime) -> IngestReport:
    """Validate and store a batch idempotently, grouped; all or nothing (the caller commits)."""
    return store(session, prepare(payloads, actor, now), now)


def store(session: Any, batch: Sequence[Prepared], now: datetime) -> IngestReport:
    """Store validated alerts idempotently and group them; the caller commits.

    `batch` is not modified, so a caller may retry it in a new transaction.
    """
    tenant_id = tenant_id_of(session)
    alerts = AlertRepository(session)
    incidents = IncidentRepository(session)
    incidents.lock_for_ingest(tenant_id)
    stored = alerts.find_by_dedup({p.row["dedup_key"] for p in batch})

    fresh: list[tuple[dict[str, Any], Prepared]] = []
    repeats: dict[uuid.UUID, int] = defaultdict(int)
    first_in_batch: dict[str, dict[str, Any]] = {}
    sources: list[StoredAlert | dict[str, Any]] = []  # what each item reports, in order
    rows: list[dict[str, Any]] = []
    for p in batch:
        row = dict(p.row)
        rows.append(row)
        key = row["dedup_key"]
        if key in stored:
            repeats[stored[key].id] += 1
            sources.append(stored[key])
        elif key in first_in_batch:
            first = first_in_batch[key]
            first["occurrences"] += 1
            sources.append(first)
        else:
            first_in_batch[key] = row
            fresh.append((row, p))
            sources.append(row)

    opened, hashes = _group(session, tenant_id, fresh, incidents, now)
    alerts.insert([row for row, _ in fresh])
    alerts.bump_occurrences(repeats, now)
    on_incidents_created(session, opened, now)  # playbook criteria may look at the alerts
    return IngestReport(
        [_item(source, row, hashes) for source, row in zip(sources, rows, strict=True)], opened
    )


def _item(
    source: StoredAlert | dict[str, Any], row: dict[str, Any], hashes: Mapping[uuid.UUID, str]
) -> IngestedAlert:
    """What to answer for one alert: itself, the stored original, or its twin in the batch."""
    if isinstance(source, StoredAlert):
        return IngestedAlert(
            source.id, source.incident_id, source.incident_hash, True, source.grouping_reason
        )
    incident_id = source["incident_id"]
    return IngestedAlert(
        source["id"],
        incident_id,
        hashes.get(incident_id),
        source is not row,
        source["grouping_reason"],
    )


def _group(
    session: Any,
    tenant_id: uuid.UUID,
    fresh: list[tuple[dict[str, Any], Prepared]],
    incidents: IncidentRepository,
    now: datetime,
) -> tuple[set[uuid.UUID], dict[uuid.UUID, str]]:
    """Decide each fresh alert's incident, write new and touched incidents in bulk, and return
    the incidents opened and the incidentHash of every incident involved."""
    if not fresh:
        return set(), {}
    rules = active_rules(session)
    if any(rule.predicate is not None for rule in rules):  # filters see the whole alert
        keyed = [applicable(p.view(), rules) for _, p in fresh]
    else:
        keyed = [applicable(p.facts, rules) for _, p in fresh]
    pool, extras = _candidate_pool(incidents, rules, fresh, keyed, now)
    # every candidate as it stands now, by id (a batch changes their alert counts)
    live = {cand.id: cand for cands in pool.values() for cand in cands}
    by_key = {key: [cand.id for cand in cands] for key, cands in pool.items()}
    entities = _entity_batch(session, rules, fresh, now, live, extras)
    new: dict[uuid.UUID, NewIncident] = {}
    touched: dict[uuid.UUID, Touched] = defaultdict(Touched)
    for index, ((row, p), applies) in enumerate(zip(fresh, keyed, strict=True)):
        cands = [live[i] for k in applies if k.key for i in by_key.get(k.key, ())]
        facts = entities.facts(index, live) if entities is not None else None
        decision = decide(p.facts, cands, rules, now, applies=applies, entities=facts)
        if isinstance(decision, AttachTo):
            target = decision.incident_id
        else:
            target = new_id()
            new[target] = NewIncident(
                id=target,
                first=row,
                keyed=decision.keyed,
                reason=decision.reason,
                opener=p.actor,
            )
            key = decision.keyed.key if decision.keyed is not None else None
            at = p.facts["createdAt"]
            live[target] = Candidate(target, 0, key, "OPEN", True, 0, at, now, last_alert_at=at)
            if key is not None:
                by_key.setdefault(key, []).append(target)
        row["incident_id"] = target
        row["grouping_reason"] = decision.reason
        cand = live[target]
        live[target] = dataclasses.replace(
            cand,
            alert_count=cand.alert_count + 1,
            last_alert_at=_later(cand.last_alert_at, p.facts["createdAt"]),
        )
        if entities is not None:
            entities.record(index, target, cand.first_alert_at, p.facts["createdAt"])
        account = new.get(target) or touched[target]
        account.add(row, p.actor, decision.reason)
    hashes = write_new(incidents, tenant_id, new, now)
    hashes.update((incident_id, extra[1]) for incident_id, extra in extras.items())
    write_touched(session, incidents, tenant_id, touched, extras, now)
    if entities is not None:
        EntityRepository(session).save(
            entities.index_rows(tenant_id), entities.commonness_rows(tenant_id, now)
        )
    return set(new), hashes


def _entity_batch(
    session: Any,
    rules: Sequence[Rule],
    fresh: list[tuple[dict[str, Any], Prepared]],
    now: datetime,
    live: dict[uuid.UUID, Candidate],
    extras: dict[uuid.UUID, tuple[int, str]],
) -> EntityBatch | None:
    """The entity side of the batch when the tenant has an entities rule (else None); the
    incidents it reads join `live` and `extras`."""
    windows = [rule.window for rule in rules if rule.strategy == ENTITIES]
    if not windows:
        return None
    earliest = min((p.facts["createdAt"] for _, p in fresh), default=now)
    entities, incidents, more = load_entity_batch(
        session, [row for row, _ in fresh], earliest - max(windows)
    )
    for incident_id, cand in incidents.items():
        live.setdefault(incident_id, cand)
    for incident_id, extra in more.items():
        extras.setdefault(incident_id, extra)
    return entities


def _candidate_pool(
    incidents: IncidentRepository,
    rules: Sequence[Rule],
    fresh: list[tuple[dict[str, Any], Prepared]],
    keyed: list[list[Keyed]],
    now: datetime,
) -> tuple[dict[str, list[Candidate]], dict[uuid.UUID, tuple[int, str]]]:
    """Every incident that could take an alert of the batch, by grouping key, in one query."""
    pool: dict[str, list[Candidate]] = defaultdict(list)
    if not rules:
        return pool, {}
    keys = {k.key for applies in keyed for k in applies if k.rule.strategy == KEYS}
    earliest = min((p.facts["createdAt"] for _, p in fresh), default=now)
    longest = max(rule.window for rule in rules)
    fullest = max(rule.max_alerts for rule in rules)
    found, extras = incidents.grouping_pool(keys, earliest - longest, fullest)
    pool.update(found)
    return pool, extras


def _later(known: datetime | None, at: datetime) -> datetime:
    """The later of an incident's last alert time (if known) and a new alert's."""
    return at if known is None or at > known else known
