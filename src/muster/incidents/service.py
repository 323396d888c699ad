"""Incident services: create, read, change under the lifecycle rules, comment, merge.

Services flush, never commit: the request (or job) that called them owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from muster.db.tenancy import id_taken, tenant_id_of
from muster.errors import InvalidInput, InvalidTransition, NotFound, StaleVersion
from muster.ids import normalise_incident_hash
from muster.incidents import lifecycle
from muster.incidents.lifecycle import STATE_FIELDS, Actor, Outcome
from muster.incidents.repository import IncidentRepository
from muster.incidents.schemas import IncidentCreate, IncidentUpdate
from muster.incidents.timeline import record, serialisable_changes
from muster.models import Alert, Incident
from muster.models.enums import SOAR_ASSIGNEE, IncidentStatus, Resolution
from muster.sla import service as sla
from muster.tenants.users import members

# lifecycle fields an incident's SLA depends on (`muster.sla.clock`)
_SLA_FIELDS = frozenset({"severity", "responded_at", "resolved_at", "exclude_from_sla"})
# `get_incident(lock=True)` reads the row with `FOR NO KEY UPDATE` (PostgreSQL; SQLite has one
# writer already) and holds it to the end of the transaction: an ingest in another process
# that adds alerts to the incident waits for the edit to commit, or the edit waits for the
# ingest and reads its version, instead of the edit's versioned UPDATE matching no row
# (a 412 `incident.stale_version` nobody asked for). Foreign keys to the incident (alerts,
# timeline rows, comments) take only KEY SHARE locks, which this does not block.
ROW_LOCK = {"key_share": True}


def get_incident(session: Session, incident_id: uuid.UUID, *, lock: bool = False) -> Incident:
    """The incident, or NotFound (also for another tenant's id: the session's tenancy filter
    applies to this look-up, and its identity map only holds the session's tenant). With
    `lock`, read afresh and locked to the end of the transaction (`ROW_LOCK`); the session's
    pending changes are flushed first, so the fresh read keeps them."""
    if not lock:
        incident = session.get(Incident, incident_id)
    else:
        session.flush()
        incident = session.get(
            Incident, incident_id, with_for_update=ROW_LOCK, populate_existing=True
        )
    if incident is None:
        raise NotFound("incident", incident_id)
    return incident


def get_by_hash(session: Session, incident_hash: str) -> Incident:
    """The incident with this incidentHash (any common typing of it), or NotFound."""
    wanted = normalise_incident_hash(incident_hash)
    incident = session.scalars(select(Incident).where(Incident.incident_hash == wanted)).first()
    if incident is None:
        raise NotFound("incident", incident_hash)
    return incident


def alerts_of(session: Session, incident_id: uuid.UUID) -> list[Alert]:
    """The incident's alerts, oldest first, without raw payloads."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.incident_id == incident_id)
            .order_by(Alert.created_at, Alert.id)
        )
    )


def create_incident(
    session: Session,
    data: IncidentCreate,
    actor: Actor,
    now: datetime,
    *,
    incident_id: uuid.UUID | None = None,
) -> Incident:
    """Open a manual incident (under `incident_id` when the caller names one, as Sentinel's
    create-or-update does; one another tenant's incident holds is NotFound, as any other
    tenant's id), optionally taking existing alerts into it."""
    tenant_id = tenant_id_of(session)
    if incident_id is not None and id_taken(session, Incident.id, incident_id):
        raise NotFound("incident", incident_id)
    repo = IncidentRepository(session)
    number = repo.allocate_numbers(tenant_id, 1)[0]
    incident = Incident(
        id=incident_id or uuid.uuid4(),
        tenant_id=tenant_id,
        number=number,
        incident_hash=repo.fresh_hashes(1)[0],
        description=data.description,
        details=data.details,
        severity=data.severity,
        source="manual",
        mitre_tactic=data.mitre_tactic,
        mitre_technique=data.mitre_technique,
        grouping_allowed=data.grouping_allowed,
        exclude_from_sla=data.exclude_from_sla,
        tags=data.tags,
        status=IncidentStatus.OPEN,
        alert_count=0,
        created_at=now,
        updated_at=now,
        sla_raised=0,
    )
    sla.refresh(session, incident, retime=True)
    session.add(incident)
    session.flush()
    record(session, incident.id, "incident.created", actor, now, reason="created by hand")
    if data.assignee is not None:
        change_incident(session, incident.id, {"assignee": data.assignee}, actor, now)
    for alert_id in data.alert_ids:
        move_alert(session, alert_id, incident.id, actor, now)
    from muster.soar.triggers import on_incidents_created  # SOAR builds on incidents

    on_incidents_created(session, [incident.id], now)
    session.refresh(incident)
    return incident


def update_incident(
    session: Session,
    incident_id: uuid.UUID,
    data: IncidentUpdate,
    actor: Actor,
    now: datetime,
    *,
    if_match: int | None = None,
) -> Incident:
    """Apply a PATCH: only fields the client sent, checked against `If-Match` if given."""
    requested = data.model_dump(exclude_unset=True)
    for name in (
        "description",
        "severity",
        "status",
        "grouping_allowed",
        "exclude_from_sla",
        "tags",
    ):
        if name in requested and requested[name] is None:
            field = IncidentUpdate.model_fields[name].alias or name  # the API's name
            raise InvalidInput.field(field, "must not be null")
    return change_incident(session, incident_id, requested, actor, now, if_match=if_match)


def change_incident(
    session: Session,
    incident_id: uuid.UUID,
    requested: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    *,
    if_match: int | None = None,
    reason: str | None = None,
    flush: bool = True,
    lock: bool = True,
) -> Incident:
    """Run the lifecycle transition, apply it and write it to the timeline. The incident is
    read locked (`ROW_LOCK`) unless `lock=False`: the caller holds its lock already (the
    SOAR runner). With `flush=False` the row is written at the next flush or commit (SOAR
    steps batch several changes of one incident into one UPDATE); its `version` then moves
    at that point."""
    incident = get_incident(session, incident_id, lock=lock)
    if if_match is not None and if_match != incident.version:
        raise StaleVersion(
            f"incident is at version {incident.version}, not {if_match}; reload and retry"
        )
    state = {name: getattr(incident, name) for name in STATE_FIELDS}
    # the roster is needed only to assign a person (not SOAR, not nobody)
    roster = members(session) if requested.get("assignee") not in (None, SOAR_ASSIGNEE) else {}
    outcome = lifecycle.transition(state, requested, actor, roster, now)
    apply_outcome(session, incident, outcome, actor, now, reason, flush=flush)
    return incident


def apply_outcome(
    session: Session,
    incident: Incident,
    outcome: Outcome,
    actor: Actor,
    now: datetime,
    reason: str | None,
    *,
    flush: bool = True,
) -> None:
    """Write a transition's changes to the incident (re-timing its SLA) and its timeline."""
    if not outcome.changes:
        return
    for name, (_, after) in outcome.changes.items():
        setattr(incident, name, after)
    incident.updated_at = now
    if _SLA_FIELDS.intersection(outcome.changes):
        sla.refresh(session, incident, retime="severity" in outcome.changes)
    if flush:
        session.flush()
    record(
        session,
        incident.id,
        outcome.action,
        actor,
        now,
        changes=serialisable_changes(outcome.changes),
        reason=reason,
    )


def delete_incident(session: Session, incident_id: uuid.UUID, actor: Actor, now: datetime) -> None:
    """Delete an incident with its comments and SOAR runs; its alerts stay, ungrouped, and
    the deletion stays on record (the timeline rows are kept, with a final entry)."""
    incident = get_incident(session, incident_id, lock=True)
    session.execute(
        update(Alert)
        .where(Alert.incident_id == incident.id)
        .values(incident_id=None, updated_at=now)
    )
    record(
        session,
        incident.id,
        "incident.deleted",
        actor,
        now,
        changes={"number": incident.number, "incidentHash": incident.incident_hash},
    )
    session.delete(incident)
    session.flush()


def merge_incidents(
    session: Session,
    target_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    actor: Actor,
    now: datetime,
) -> Incident:
    """Move every alert of `other_ids` into the target; resolve the others as DUPLICATE.
    All of them are locked first, in id order (two merges never wait on each other)."""
    for incident_id in sorted({target_id, *other_ids}):
        get_incident(session, incident_id, lock=True)
    target = get_incident(session, target_id)
    if target.status == IncidentStatus.RESOLVED:
        raise InvalidTransition("cannot merge into a RESOLVED incident; reopen it first")
    others = [get_incident(session, other) for other in dict.fromkeys(other_ids)]
    if any(other.id == target.id for other in others):
        raise InvalidInput.field("incidentIds", "an incident cannot be merged into itself")
    for other in others:
        session.execute(
            update(Alert)
            .where(Alert.incident_id == other.id)
            .values(incident_id=target.id, updated_at=now)
        )
        change_incident(
            session,
            other.id,
            {
                "status": IncidentStatus.RESOLVED,
                "resolution": Resolution.DUPLICATE,
                "resolution_comment": f"merged into #{target.number} ({target.incident_hash})",
                "grouping_allowed": False,
            },
            actor,
            now,
            reason=f"merged into #{target.number}",
        )
        other.alert_count = 0
    _recount(session, target, now)
    record(
        session,
        target.id,
        "incident.merged",
        actor,
        now,
        changes={"merged": [f"#{other.number}" for other in others]},
        reason=f"merged {len(others)} incident(s) into this one",
    )
    return target


def move_alert(
    session: Session, alert_id: uuid.UUID, target_id: uuid.UUID, actor: Actor, now: datetime
) -> Alert:
    """Move one alert to another incident of the tenant; both timelines say so."""
    alert = session.scalars(select(Alert).where(Alert.id == alert_id)).first()
    if alert is None:
        raise NotFound("alert", alert_id)
    for incident_id in sorted(filter(None, {target_id, alert.incident_id})):
        get_incident(session, incident_id, lock=True)
    target = get_incident(session, target_id)
    source = get_incident(session, alert.incident_id) if alert.incident_id else None
    if source is not None and source.id == target.id:
        return alert
    alert.incident_id = target.id
    alert.updated_at = now
    alert.grouping_reason = {
        "decision": "moved",
        "rule": None,
        "key": {},
        "detail": f"moved by {actor.name} from "
        f"{'#' + str(source.number) if source else 'no incident'} to #{target.number}",
    }
    session.flush()
    for incident in filter(None, (source, target)):
        _recount(session, incident, now)
    if source is not None:
        record(
            session,
            source.id,
            "alert.moved_out",
            actor,
            now,
            changes={"alertId": str(alert.id), "to": f"#{target.number}"},
        )
    record(
        session,
        target.id,
        "alert.moved_in",
        actor,
        now,
        changes={"alertId": str(alert.id), "from": f"#{source.number}" if source else None},
    )
    return alert


def _recount(session: Session, incident: Incident, now: datetime) -> None:
    """Recompute alert count, first/last alert time and (raise only) severity from alerts."""
    row = session.execute(
        select(
            func.count(Alert.id),
            func.min(Alert.created_at),
            func.max(Alert.created_at),
            func.max(Alert.severity),
        ).where(Alert.incident_id == incident.id)
    ).one()
    count, first, last, severity = row
    incident.alert_count = count
    incident.first_alert_at = first
    incident.last_alert_at = last
    if severity is not None and severity > incident.severity:
        record(
            session,
            incident.id,
            "incident.severity_raised",
            lifecycle.SYSTEM,
            now,
            changes={"severity": [incident.severity, severity]},
            reason="an alert with a higher severity joined",
        )
        incident.severity = severity
        sla.refresh(session, incident, retime=True)
    incident.updated_at = now
    session.flush()
