"""Ingest: validate a batch, drop repeats, group the rest, write it all in one transaction.

The batch is decided in memory (alerts of one batch can open and join incidents among
themselves) and then written with a handful of bulk statements, so the cost per alert stays
flat as the tables grow: every lookup is by an indexed key and bounded by the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from muster import jsontext
from muster.alerts.repository import AlertRepository, StoredAlert
from muster.alerts.schemas import AlertIn
from muster.db.tenancy import tenant_id_of
from muster.db.types import JSONText
from muster.errors import InvalidInput
from muster.grouping.decision import KEY_FIELDS, AttachTo, Candidate, Keyed, applicable, decide
from muster.grouping.service import active_rules
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.incidents.repository import IncidentRepository
from muster.incidents.timeline import event_row, write_events


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
    incidents_created: int

    @property
    def duplicates(self) -> int:
        """How many alerts of the batch were repeats."""
        return sum(1 for item in self.items if item.duplicate)


@dataclass(slots=True)
class _NewIncident:
    id: uuid.UUID
    first: dict[str, Any]
    keyed: Keyed | None
    reason: dict[str, Any]
    severity: int
    count: int = 0
    last_alert_at: datetime | None = None


@dataclass(slots=True)
class _Touched:
    count: int = 0
    severity: int = 0
    last_alert_at: datetime | None = None
    alert_ids: list[uuid.UUID] = field(default_factory=list)


def parse_batch(payload: Any, max_batch: int) -> list[Mapping[str, Any]]:
    """Return the alerts of a body: one alert object or `{"alerts": [...]}`."""
    if isinstance(payload, dict) and set(payload) == {"alerts"}:
        alerts = payload["alerts"]
        if not isinstance(alerts, list):
            raise InvalidInput.field("alerts", "must be a list of alert objects")
        if not alerts:
            raise InvalidInput.field("alerts", "must not be empty")
        if len(alerts) > max_batch:
            raise InvalidInput.field(
                "alerts",
                f"a batch holds at most {max_batch} alerts, got {len(alerts)}",
                code="request.batch_too_large",
            )
        return alerts
    if isinstance(payload, dict):
        return [payload]
    raise InvalidInput.field("body", 'must be an alert object or {"alerts": [...]}')


def ingest(session: Any, payloads: Sequence[Any], actor: Actor, now: datetime) -> IngestReport:
    """Store a batch idempotently and group it; all or nothing (the caller commits)."""
    tenant_id = tenant_id_of(session)
    prepared = [
        _prepare(index, payload, len(payloads), now) for index, payload in enumerate(payloads)
    ]
    alerts = AlertRepository(session)
    IncidentRepository(session).lock_for_ingest(tenant_id)
    stored = alerts.find_by_dedup({row["dedup_key"] for row, _ in prepared})

    fresh: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    repeats: dict[uuid.UUID, int] = defaultdict(int)
    first_in_batch: dict[str, dict[str, Any]] = {}
    sources: list[StoredAlert | dict[str, Any]] = []  # what each item reports, in order
    for index, (row, facts) in enumerate(prepared):
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
            fresh.append((index, row, facts))
            sources.append(row)

    created, hashes = _group(session, tenant_id, fresh, IncidentRepository(session), actor, now)
    alerts.insert([row for _, row, _ in fresh])
    alerts.bump_occurrences(repeats, now)

    items: list[IngestedAlert] = []
    for source, (row, _) in zip(sources, prepared, strict=True):
        if isinstance(source, StoredAlert):
            items.append(
                IngestedAlert(
                    source.id,
                    source.incident_id,
                    source.incident_hash,
                    True,
                    source.grouping_reason,
                )
            )
        else:
            incident_id = source["incident_id"]
            items.append(
                IngestedAlert(
                    source["id"],
                    incident_id,
                    hashes.get(incident_id),
                    source is not row,
                    source["grouping_reason"],
                )
            )
    return IngestReport(items, created)


def _prepare(
    index: int, payload: Any, total: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate one alert and return its row and its grouping facts."""
    where = f"alerts[{index}]" if total > 1 else ""
    if not isinstance(payload, dict):
        raise InvalidInput.field(where or "body", "must be an alert object")
    try:
        alert = AlertIn.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc, where) from None
    try:
        raw_text = jsontext.dumps(payload)
    except jsontext.JSONTextError as exc:
        name = _unstorable_field(payload)
        raise InvalidInput.field(
            f"{where}.{name}" if where else name, f"cannot be stored: {exc}"
        ) from None
    row = alert.model_dump(exclude={"created_at", "entities"})
    at = alert.created_at or now
    row.update(
        id=new_id(),
        created_at=at,
        updated_at=now,
        last_seen_at=now,
        occurrences=1,
        entities=[entity.model_dump(by_alias=True, exclude_none=True) for entity in alert.entities],
        raw=JSONText(raw_text),
        dedup_key=_dedup_key(alert, payload),
        incident_id=None,
        grouping_reason=None,
    )
    facts = {api: row[attr] for api, attr in KEY_FIELDS.items()}
    facts["createdAt"] = at
    return row, facts


def _unstorable_field(payload: Mapping[str, Any]) -> str:
    """The top-level field whose value cannot be stored as JSON (e.g. nested too deeply)."""
    for name, value in payload.items():
        try:
            jsontext.dumps({name: value})  # at the depth it has inside the payload
        except jsontext.JSONTextError:
            return str(name)
    return "raw"


def _dedup_key(alert: AlertIn, payload: Mapping[str, Any]) -> str:
    """Same source + externalId, or else the same content, is the same alert."""
    if alert.external_id:
        basis = f"id\x1f{alert.source}\x1f{alert.external_id}"
    else:
        canonical = jsontext.dumps(payload, sort_keys=True)
        basis = "content\x1f" + canonical
    return hashlib.sha256(basis.encode()).hexdigest()


def _invalid(exc: ValidationError, where: str) -> InvalidInput:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in err["loc"])
        field_name = f"{where}.{path}" if where else path
        errors.append({"field": field_name, "message": err["msg"]})
    first = errors[0]
    return InvalidInput(f"{first['field']}: {first['message']}", errors=errors)


def _group(
    session: Any,
    tenant_id: uuid.UUID,
    fresh: list[tuple[int, dict[str, Any], dict[str, Any]]],
    incidents: IncidentRepository,
    actor: Actor,
    now: datetime,
) -> tuple[int, dict[uuid.UUID, str]]:
    """Decide each fresh alert's incident, write new and touched incidents in bulk, and return
    how many incidents were opened and the incidentHash of every incident involved."""
    if not fresh:
        return 0, {}
    rules = active_rules(session)
    keys: set[str] = set()
    earliest = now
    for _, _, facts in fresh:
        keys.update(k.key for k in applicable(facts, rules))
        earliest = min(earliest, facts["createdAt"])
    longest = max((rule.window for rule in rules), default=None)
    pool: dict[str, list[Candidate]] = defaultdict(list)
    extras: dict[uuid.UUID, tuple[int, str]] = {}
    if longest is not None:
        found, extras = incidents.grouping_candidates(keys, earliest - longest)
        for cand in found:
            pool[cand.grouping_key or ""].append(cand)

    new: dict[uuid.UUID, _NewIncident] = {}
    touched: dict[uuid.UUID, _Touched] = defaultdict(_Touched)
    for _, row, facts in fresh:
        keyed = applicable(facts, rules)
        cands = [cand for k in keyed for cand in pool.get(k.key, ())]
        decision = decide(facts, cands, rules, now)
        if isinstance(decision, AttachTo):
            target = decision.incident_id
        else:
            target = new_id()
            new[target] = _NewIncident(
                target, row, decision.keyed, decision.reason, max(1, row["severity"])
            )
            if decision.keyed is not None:
                pool[decision.keyed.key].append(
                    Candidate(
                        target, 0, decision.keyed.key, "OPEN", True, 0, facts["createdAt"], now
                    )
                )
        row["incident_id"] = target
        row["grouping_reason"] = decision.reason
        _count(pool, target, decision)
        slot = new.get(target)
        if slot is not None:
            slot.count += 1
            slot.severity = max(slot.severity, row["severity"])
            slot.last_alert_at = max(slot.last_alert_at or row["created_at"], row["created_at"])
        else:
            t = touched[target]
            t.count += 1
            t.severity = max(t.severity, row["severity"])
            t.last_alert_at = max(t.last_alert_at or row["created_at"], row["created_at"])
            t.alert_ids.append(row["id"])

    hashes = _write_new(incidents, tenant_id, new, actor, now)
    hashes.update((incident_id, extra[1]) for incident_id, extra in extras.items())
    severities = {incident_id: extra[0] for incident_id, extra in extras.items()}
    raised = incidents.absorb(touched_rows(touched), severities, now)
    events = [
        event_row(
            tenant_id,
            incident_id,
            "alert.grouped",
            actor,
            now,
            changes={"alertIds": [str(a) for a in t.alert_ids], "count": t.count},
            reason=_group_reason(fresh, t.alert_ids),
        )
        for incident_id, t in touched.items()
    ] + [
        event_row(
            tenant_id,
            incident_id,
            "incident.severity_raised",
            actor,
            now,
            changes={"severity": [before, after]},
            reason="a grouped alert has a higher severity",
        )
        for incident_id, before, after in raised
    ]
    write_events(session, events)
    return len(new), hashes


def _count(pool: dict[str, list[Candidate]], target: uuid.UUID, decision: Any) -> None:
    """Account the alert on its candidate so `max_alerts` holds within one batch."""
    if decision.keyed is None:
        return
    cands = pool[decision.keyed.key]
    for i, cand in enumerate(cands):
        if cand.id == target:
            cands[i] = dataclasses.replace(cand, alert_count=cand.alert_count + 1)


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


def _group_reason(
    fresh: list[tuple[int, dict[str, Any], dict[str, Any]]], alert_ids: list[uuid.UUID]
) -> str:
    wanted = alert_ids[0]
    for _, row, _ in fresh:
        if row["id"] == wanted:
            return str(row["grouping_reason"]["detail"])
    return ""


def _write_new(
    incidents: IncidentRepository,
    tenant_id: uuid.UUID,
    new: Mapping[uuid.UUID, _NewIncident],
    actor: Actor,
    now: datetime,
) -> dict[uuid.UUID, str]:
    """Insert the incidents the batch opened; return their hashes."""
    if not new:
        return {}
    numbers = incidents.allocate_numbers(tenant_id, len(new))
    hashes = incidents.fresh_hashes(len(new))
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
            }
        )
        events.append(
            event_row(
                tenant_id,
                incident_id,
                "incident.created",
                actor,
                now,
                changes={"alertCount": slot.count, "severity": max(1, slot.severity)},
                reason=str(slot.reason.get("detail", "")),
            )
        )
    incidents.insert(rows)
    write_events(incidents.session, events)
    return {row["id"]: row["incident_hash"] for row in rows}
