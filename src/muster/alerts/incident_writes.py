"""The incident rows an ingest batch writes: incidents it opens, incidents it adds to.

`muster.alerts.ingest` decides where each alert goes in memory and accounts it here
(`NewIncident`, `Touched`); `write_new` and `write_touched` then write the incidents, their SLA
columns and their timeline rows with a handful of bulk statements.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.grouping.decision import Keyed
from muster.ids import new_id
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.incidents.repository import IncidentRepository
from muster.incidents.timeline import event_row, write_events
from muster.sla import repository as sla_repository
from muster.sla.clock import SlaFacts, due_times, next_check_at
from muster.sla.policy import Policy
from muster.sla.service import retime_absorbed


@dataclass(slots=True)
class Account:
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
class NewIncident(Account):
    """An incident the batch opens, with the alert that opened it."""

    id: uuid.UUID = dataclasses.field(default_factory=new_id)
    first: dict[str, Any] = dataclasses.field(default_factory=dict)
    keyed: Keyed | None = None
    reason: dict[str, Any] = dataclasses.field(default_factory=dict)
    opener: Actor = SYSTEM


@dataclass(slots=True)
class Touched(Account):
    """An existing incident the batch adds alerts to."""

    actor: Actor | None = None
    reason: str = ""
    alert_ids: list[uuid.UUID] = dataclasses.field(default_factory=list)

    def add(self, row: Mapping[str, Any], actor: Actor, reason: Mapping[str, Any]) -> None:
        """Account one alert, remembering the first sender and reason for the timeline."""
        Account.add(self, row, actor, reason)
        if self.actor is None:
            self.actor, self.reason = actor, str(reason.get("detail", ""))
        self.alert_ids.append(row["id"])


def write_touched(
    session: Any,
    incidents: IncidentRepository,
    tenant_id: uuid.UUID,
    touched: Mapping[uuid.UUID, Touched],
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


def touched_rows(touched: Mapping[uuid.UUID, Touched]) -> list[dict[str, Any]]:
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


def write_new(
    incidents: IncidentRepository,
    tenant_id: uuid.UUID,
    new: Mapping[uuid.UUID, NewIncident],
    now: datetime,
) -> dict[uuid.UUID, str]:
    """Insert the incidents the batch opened; return their hashes."""
    if not new:
        return {}
    numbers = incidents.allocate_numbers(tenant_id, len(new))
    hashes = incidents.fresh_hashes(len(new))
    sla = SlaStamps(sla_repository.policy(incidents.session.connection(), tenant_id), now)
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


class SlaStamps:
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
