"""SOAR operations in the session's tenant: start runs, answer questions, cancel, retry, read.

Routes and ingest call these inside their own transaction; the work itself is done later by
the worker (`muster.soar.runner`) from the jobs written here.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.errors import Conflict, InvalidInput, NotFound
from muster.ids import HASH_ALPHABET
from muster.incidents.lifecycle import SOAR, Actor
from muster.incidents.service import get_incident
from muster.incidents.timeline import record
from muster.models import Incident, Playbook, PlaybookVersion, SoarProcess, SoarStepLog
from muster.playbooks.definition import PlaybookDefinition, QuestionStep
from muster.soar import engine
from muster.soar.transitions import ACTIVE, apply_move, end, log_step, mirror, schedule_run


def process_hash() -> str:
    """A random 12-character Crockford code for a process (60 bits)."""
    return "".join(secrets.choice(HASH_ALPHABET) for _ in range(12))


def definition_of(session: Session, playbook_id: uuid.UUID, version: int) -> PlaybookDefinition:
    """A saved playbook version (a process runs the version it started with)."""
    saved = session.scalars(
        select(PlaybookVersion).where(
            PlaybookVersion.playbook_id == playbook_id, PlaybookVersion.version == version
        )
    ).one()
    return PlaybookDefinition.model_validate(saved.definition)


_DEFINITIONS: dict[tuple[uuid.UUID, int], PlaybookDefinition] = {}


def cached_definition_of(
    session: Session, playbook_id: uuid.UUID, version: int
) -> PlaybookDefinition:
    """`definition_of`, parsed once per process: a saved version never changes."""
    key = (playbook_id, version)
    found = _DEFINITIONS.get(key)
    if found is None:
        found = definition_of(session, playbook_id, version)
        if len(_DEFINITIONS) > 4096:
            _DEFINITIONS.clear()
        _DEFINITIONS[key] = found
    return found


def create_process(
    session: Session,
    incident: Incident,
    playbook_name: str,
    *,
    trigger: str,
    started_by: str,
    now: datetime,
    parent: SoarProcess | None = None,
    reason: str | None = None,
) -> SoarProcess:
    """Queue a run of the tenant's playbook `playbook_name` (its current version) on `incident`."""
    playbook = session.scalars(select(Playbook).where(Playbook.name == playbook_name)).first()
    if playbook is None:
        raise NotFound("playbook", playbook_name)
    return create_process_for(
        session,
        incident,
        playbook,
        trigger=trigger,
        started_by=started_by,
        now=now,
        parent=parent,
        reason=reason,
    )


def create_process_for(
    session: Session,
    incident: Incident,
    playbook: Playbook,
    *,
    trigger: str,
    started_by: str,
    now: datetime,
    parent: SoarProcess | None = None,
    reason: str | None = None,
) -> SoarProcess:
    """Queue a run of `playbook` (its current version) on `incident`; PENDING until a worker
    picks it up."""
    definition = PlaybookDefinition.model_validate(playbook.definition)
    process = SoarProcess(
        tenant_id=incident.tenant_id,
        incident_id=incident.id,
        playbook_id=playbook.id,
        playbook_version=playbook.version,
        parent_process_id=parent.id if parent else None,
        process_hash=process_hash(),
        trigger=trigger,
        started_by=started_by,
        status="PENDING",
        memory=dict(parent.memory) if parent else {},
        current_step_id=definition.root,
        loop_stack=[],
        created_at=now,
        updated_at=now,
    )
    session.add(process)
    session.flush()
    mirror(process, incident, now)
    if parent is None:
        record(
            session,
            incident.id,
            "soar.selected",
            SOAR,
            now,
            changes={"processId": str(process.id), "playbook": playbook.name},
            reason=reason or f"playbook {playbook.name!r} started by {started_by}",
        )
    schedule_run(session, process, now)
    return process


def start_manually(
    session: Session,
    incident_id: uuid.UUID,
    playbook_name: str | None,
    actor: Actor,
    now: datetime,
) -> SoarProcess:
    """An analyst starts a playbook on an incident: the named one, or the first manual
    playbook whose criteria match; refused while another run is active."""
    from muster.playbooks import selection
    from muster.playbooks.service import enabled_for_trigger
    from muster.soar.views import IncidentView

    incident = get_incident(session, incident_id)
    active = current_process(session, incident)
    if active is not None and active.status in ACTIVE:
        raise Conflict(
            f"playbook run {active.process_hash} is still {active.status}; cancel it first",
            code="soar.already_running",
        )
    if playbook_name:
        return create_process(
            session,
            incident,
            playbook_name,
            trigger="manual",
            started_by=actor.id,
            now=now,
            reason=f"started by {actor.name}",
        )
    playbooks = enabled_for_trigger(session, "manual", now)
    wants_alerts = any("alerts." in (playbook.criteria or "") for playbook, _ in playbooks)
    view = IncidentView(session, incident).for_condition({}, wants_alerts)
    candidates = [
        selection.Candidate(p.name, p.weight, predicate, p.id, p.criteria)
        for p, predicate in playbooks
    ]
    chosen = selection.select(candidates, view, now, trigger="manual")
    if chosen.playbook_id is None:
        raise InvalidInput.field("playbook", chosen.reason, code="soar.no_playbook")
    playbook = next(p for p, _ in playbooks if p.id == chosen.playbook_id)
    return create_process_for(
        session,
        incident,
        playbook,
        trigger="manual",
        started_by=actor.id,
        now=now,
        reason=chosen.reason,
    )


def current_process(session: Session, incident: Incident) -> SoarProcess | None:
    """The incident's current (or last) run."""
    if incident.soar_process_id is None:
        return None
    return session.get(SoarProcess, incident.soar_process_id)


def get_process(session: Session, process_id: uuid.UUID) -> SoarProcess:
    """A process of the tenant, or 404."""
    process = session.get(SoarProcess, process_id)
    if process is None:
        raise NotFound("soar_process", process_id)
    return process


def list_processes(
    session: Session,
    *,
    incident_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[SoarProcess]:
    """The tenant's processes, newest first."""
    query = select(SoarProcess).order_by(SoarProcess.created_at.desc(), SoarProcess.id.desc())
    if incident_id is not None:
        query = query.where(SoarProcess.incident_id == incident_id)
    if status is not None:
        query = query.where(SoarProcess.status == status)
    return list(session.scalars(query.limit(limit)))


def step_log(session: Session, process_id: uuid.UUID) -> list[SoarStepLog]:
    """Every logged step of a process, in order."""
    return list(
        session.scalars(
            select(SoarStepLog)
            .where(SoarStepLog.process_id == process_id)
            .order_by(SoarStepLog.started_at, SoarStepLog.id)
        )
    )


def answer(
    session: Session, incident_id: uuid.UUID, value: str, actor: Actor, now: datetime
) -> SoarProcess:
    """Answer the incident's pending question; the run continues on a worker. A question that
    has timed out (or none pending) is a 409; an answer outside the options is a 400."""
    incident = get_incident(session, incident_id)
    process = current_process(session, incident)
    if process is None or process.status != "WAITING_INPUT":
        raise Conflict("no question is waiting for an answer", code="soar.no_question")
    if process.timeout_at is not None and now >= process.timeout_at:
        raise Conflict(
            f"the question timed out at {process.timeout_at.isoformat()}; the run has moved on",
            code="soar.question_closed",
        )
    options = process.current_soar_options or []
    chosen = _match_option(value, options)
    definition = definition_of(session, process.playbook_id, process.playbook_version)
    step = definition.step(process.current_step_id or "")
    assert isinstance(step, QuestionStep)
    state = engine.State(dict(process.memory), list(process.loop_stack))
    move = engine.route(definition, state, step, engine.Answered(chosen, actor.id), now)
    log_step(
        session,
        process,
        step.id,
        "question",
        "answered",
        now,
        now,
        inputs={"question": process.current_soar_question, "options": options},
        outputs={"answer": chosen, "by": actor.id},
        next_step=getattr(move, "step", None),
    )
    record(
        session,
        incident.id,
        "soar.answered",
        actor,
        now,
        changes={"answer": chosen, "question": process.current_soar_question},
    )
    if apply_move(session, process, incident, definition, state, move, now):
        mirror(process, incident, now)
        schedule_run(session, process, now)
    return process


def _match_option(value: str, options: Sequence[str]) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput.field("answer", "must not be empty")
    if not options:
        return text
    for option in options:
        if option.casefold() == text.casefold():
            return option
    raise InvalidInput.field(
        "answer", f"must be one of {', '.join(repr(o) for o in options)}", code="soar.bad_answer"
    )


def cancel(session: Session, process_id: uuid.UUID, actor: Actor, now: datetime) -> SoarProcess:
    """Stop an active run (its pending jobs become no-ops); the incident is handed back."""
    process = get_process(session, process_id)
    if process.status not in ACTIVE:
        raise Conflict(f"the run is already {process.status}", code="soar.not_active")
    incident = get_incident(session, process.incident_id)
    for child in session.scalars(
        select(SoarProcess).where(
            SoarProcess.parent_process_id == process.id, SoarProcess.status.in_(ACTIVE)
        )
    ):
        child.status, child.finished_at, child.error = "CANCELLED", now, "parent cancelled"
    end(
        session,
        process,
        incident,
        definition_of(session, process.playbook_id, process.playbook_version),
        "CANCELLED",
        f"cancelled by {actor.name}",
        now,
        actor=actor,
    )
    return process


def retry(session: Session, process_id: uuid.UUID, actor: Actor, now: datetime) -> SoarProcess:
    """Run a FAILED process again from the step that failed."""
    process = get_process(session, process_id)
    if process.status != "FAILED":
        raise Conflict(
            f"only a FAILED run can be retried (this one is {process.status})",
            code="soar.not_failed",
        )
    incident = get_incident(session, process.incident_id)
    active = current_process(session, incident)
    if active is not None and active.id != process.id and active.status in ACTIVE:
        raise Conflict(
            f"run {active.process_hash} is active on this incident", code="soar.already_running"
        )
    process.status, process.error, process.finished_at = "PENDING", None, None
    process.updated_at = now
    mirror(process, incident, now)
    record(
        session,
        incident.id,
        "soar.retried",
        actor,
        now,
        changes={"processId": str(process.id), "fromStep": process.current_step_id},
    )
    schedule_run(session, process, now)
    return process


def summary(process: SoarProcess) -> Mapping[str, Any]:
    """The process as the incident detail embeds it (`soarProcess`)."""
    return {
        "id": str(process.id),
        "processHash": process.process_hash,
        "playbookId": str(process.playbook_id),
        "playbookVersion": process.playbook_version,
        "status": process.status,
        "currentStepId": process.current_step_id,
        "currentSoarQuestion": process.current_soar_question,
        "currentSoarOptions": process.current_soar_options,
        "timeoutAt": process.timeout_at.isoformat() if process.timeout_at else None,
    }
