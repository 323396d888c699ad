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
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.incidents.repository import IncidentRepository
from muster.incidents.timeline import event_row, write_events
from muster.sla import repository as sla_repository
from muster.sla.clock import SlaFacts, due_times, next_check_at
from muster.sla.policy import Policy
from muster.sla.service import retime_absorbed
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


@dataclass(slots=True)
class _Account:
    """What a batch adds to one incident: alerts, highest severity, latest alert."""

    count: int = 0
    severity: int = 0
    last_alert_at: datetime | None = None

    def add(self, row: Mapping[str, Any], actor: Actor, reason: Mapping[str, Any]) -> None:
        """Account one alert of the batch."""
        self.count += 1
        self.severity = max(self.severity, row["severity"])
        at = row["created_at"]
        self.last_alert_at = at if self.last_alert_at is None else max(self.last_alert_at, at)


@dataclass(slots=True)
class _NewIncident(_Account):
    """An incident the batch opens, with the alert that opened it."""

    id: uuid.UUID = dataclasses.field(default_factory=new_id)
    first: dict[str, Any] = dataclasses.field(default_factory=dict)
    keyed: Keyed | None = None
    reason: dict[str, Any] = dataclasses.field(default_factory=dict)
    opener: Actor = SYSTEM


@dataclass(slots=True)
class _Touched(_Account):
    """An existing incident the batch adds alerts to."""

    actor: Actor | None = None
    reason: str = ""
    alert_ids: list[uuid.UUID] = dataclasses.field(default_factory=list)

    def add(self, row: Mapping[str, Any], actor: Actor, reason: Mapping[str, Any]) -> None:
        """Account one alert, remembering the first sender and reason for the timeline."""
        _Account.add(self, row, actor, reason)
        if self.actor is None:
            self.actor, self.reason = actor, str(reason.get("detail", ""))
        self.alert_ids.append(row["id"])


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
    new: dict[uuid.UUID, _NewIncident] = {}
    touched: dict[uuid.UUID, _Touched] = defaultdict(_Touched)
    for index, ((row, p), applies) in enumerate(zip(fresh, keyed, strict=True)):
        cands = [live[i] for k in applies if k.key for i in by_key.get(k.key, ())]
        facts = entities.facts(index, live) if entities is not None else None
        decision = decide(p.facts, cands, rules, now, applies=applies, entities=facts)
        if isinstance(decision, AttachTo):
            target = decision.incident_id
        else:
            target = new_id()
            new[target] = _NewIncident(
                id=target,
                first=row,
                keyed=decision.keyed,
                reason=decision.reason,
                opener=p.actor,
            )
            key = decision.keyed.key if decision.keyed is not None else None
            live[target] = Candidate(target, 0, key, "OPEN", True, 0, p.facts["createdAt"], now)
            if key is not None:
                by_key.setdefault(key, []).append(target)
        row["incident_id"] = target
        row["grouping_reason"] = decision.reason
        cand = live[target]
        live[target] = dataclasses.replace(cand, alert_count=cand.alert_count + 1)
        if entities is not None:
            entities.record(index, target, cand.first_alert_at, p.facts["createdAt"])
        account = new.get(target) or touched[target]
        account.add(row, p.actor, decision.reason)
    hashes = _write_new(incidents, tenant_id, new, now)
    hashes.update((incident_id, extra[1]) for incident_id, extra in extras.items())
    _write_touched(session, incidents, tenant_id, touched, extras, now)
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


def _write_touched(
    session: Any,
    incidents: IncidentRepository,
    tenant_id: uuid.UUID,
    touched: Mapping[uuid.UUID, _Touched],
    extras: Mapping[uuid.UUID, tuple[int, str]],
    now: datetime,
) -> None:
    """Account grouped alerts on existing incidents and put it on their timelines."""
    severities = {incident_id: extra[0] for incident_id, extra in extras.items()}
    raised = incidents.absorb(touched_rows(touched), severities, now)
    retime_absorbed(session, tenant_id, [incident_id for incident_id, _, _ in raised])
    events = [
        event_row(
            tenant_id,
            incident_id,
            "alert.grouped",
            t.actor or SYSTEM,
            now,
            changes={"alertIds": [str(a) for a in t.alert_ids], "count": t.count},
            reason=t.reason,
        )
        for incident_id, t in touched.items()
    ] + [
        event_row(
            tenant_id,
            incident_id,
            "incident.severity_raised",
            touched[incident_id].actor or SYSTEM,
            now,
            changes={"severity": [before, after]},
            reason="a grouped alert has a higher severity",
        )
        for incident_id, before, after in raised
    ]
    write_events(session, events)


def touched_rows(touched: Mapping[uuid.UUID, _Touched]) -> list[dict[str, Any]]:
    """Aggregated changes to existing incidents, one row per incident."""
    return [
        {
            "incident_id": incident_id,
            "count": t.count,
            "severity": t.severity,
            "last_alert_at": t.last_alert_at,
        }
        for incident_id, t in touched.items()
    ]


def _write_new(
    incidents: IncidentRepository,
    tenant_id: uuid.UUID,
    new: Mapping[uuid.UUID, _NewIncident],
    now: datetime,
) -> dict[uuid.UUID, str]:
    """Insert the incidents the batch opened; return their hashes."""
    if not new:
        return {}
    numbers = incidents.allocate_numbers(tenant_id, len(new))
    hashes = incidents.fresh_hashes(len(new))
    sla = _SlaStamps(sla_repository.policy(incidents.session.connection(), tenant_id), now)
    rows, events = [], []
    for (incident_id, slot), number, incident_hash in zip(
        new.items(), numbers, hashes, strict=True
    ):
        first = slot.first
        rows.append(
            {
                "id": incident_id,
                "tenant_id": tenant_id,
                "number": number,
                "incident_hash": incident_hash,
                "description": first["rule_name"],
                "details": first["description"],
                "severity": max(1, slot.severity),
                "source": first["source"],
                "mitre_tactic": first["mitre_tactic"],
                "mitre_technique": first["mitre_technique"],
                "grouping_key": slot.keyed.key if slot.keyed else None,
                "grouping_rule": slot.keyed.rule.name if slot.keyed else None,
                "alert_count": slot.count,
                "first_alert_at": first["created_at"],
                "last_alert_at": slot.last_alert_at,
                "created_at": now,
                "updated_at": now,
                "tags": [],
                "status": "OPEN",
                "soar_status": "NOT_PROCESSED",
                "version": 1,
                **sla.columns(max(1, slot.severity)),
            }
        )
        events.append(
            event_row(
                tenant_id,
                incident_id,
                "incident.created",
                slot.opener,
                now,
                changes={"alertCount": slot.count, "severity": max(1, slot.severity)},
                reason=str(slot.reason.get("detail", "")),
            )
        )
    incidents.insert(rows)
    write_events(incidents.session, events)
    return {row["id"]: row["incident_hash"] for row in rows}


class _SlaStamps:
    """The SLA columns of incidents a batch opens (all at `now`): computed once per severity."""

    def __init__(self, policy: Policy, now: datetime) -> None:
        self.policy, self.now = policy, now
        self.by_severity: dict[int, dict[str, Any]] = {}

    def columns(self, severity: int) -> dict[str, Any]:
        """`response_due_at`, `resolution_due_at`, `sla_raised`, `sla_next_at` of a new incident."""
        found = self.by_severity.get(severity)
        if found is None:
            due = due_times(self.now, severity, self.policy)
            facts = SlaFacts(self.now, due.response_due_at, due.resolution_due_at)
            found = self.by_severity[severity] = {
                "response_due_at": due.response_due_at,
                "resolution_due_at": due.resolution_due_at,
                "sla_raised": 0,
                "sla_next_at": next_check_at(facts, self.policy.at_risk_fraction),
            }
        return found
