"""Writing a run's progress: the process row, the incident's SOAR fields, timers and timeline.

Every function here runs inside the caller's write transaction (the step's, or the API
request's), so a step's effect, its log entry, the move and the jobs it schedules commit
together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from muster.errors import DomainError
from muster.incidents.lifecycle import SOAR, Actor
from muster.incidents.service import change_incident
from muster.incidents.timeline import record
from muster.models import Incident, SoarProcess, SoarStepLog
from muster.models.enums import SOAR_ASSIGNEE, SoarStatus
from muster.playbooks.definition import PlaybookDefinition, QuestionStep
from muster.soar import engine
from muster.worker.jobs import enqueue

RUN, TIMEOUT, WAKE = "soar.run", "soar.timeout", "soar.wake"
ACTIVE = frozenset({"PENDING", "RUNNING", "WAITING_INPUT", "WAITING_CHILD", "SLEEPING"})
ENDED = frozenset({"FINISHED", "FAILED", "CANCELLED"})
INCIDENT_STATUS = {
    "PENDING": SoarStatus.PENDING,
    "RUNNING": SoarStatus.EXECUTING_PLAYBOOK,
    "SLEEPING": SoarStatus.EXECUTING_PLAYBOOK,
    "WAITING_CHILD": SoarStatus.EXECUTING_PLAYBOOK,
    "WAITING_INPUT": SoarStatus.WAITING_INPUT,
    "FINISHED": SoarStatus.FINISHED,
    "FAILED": SoarStatus.FAILED,
    "CANCELLED": SoarStatus.FAILED,  # the run did not complete; the process says why
}


def schedule_run(session: Session, process: SoarProcess, now: datetime) -> None:
    """Queue the job that runs the process from its current step."""
    enqueue(
        session,
        RUN,
        {"processId": str(process.id)},
        run_at=now,
        tenant_id=process.tenant_id,
        dedup_key=f"{RUN}:{process.id}:{process.steps_run}:{process.status}",
        now=now,
    )


def mirror(process: SoarProcess, incident: Incident, now: datetime) -> None:
    """Copy the process state onto the incident's `soar*` fields (if it is the current one)."""
    if process.parent_process_id is not None:
        return  # a child runs inside its parent: the incident shows the parent
    timeout = process.timeout_at if process.status in ("WAITING_INPUT", "SLEEPING") else None
    status = INCIDENT_STATUS[process.status]
    if (incident.soar_process_id, incident.soar_status, incident.soar_timeout) == (
        process.id,
        status,
        timeout,
    ):
        return  # unchanged: no write (a run's steps would otherwise update the incident each)
    incident.soar_process_id = process.id
    incident.soar_status = status
    incident.soar_timeout = timeout
    incident.updated_at = now


def take_incident(
    session: Session, process: SoarProcess, incident: Incident, now: datetime
) -> None:
    """SOAR owns the incident while the run works: remember who had it, assign `SOAR`."""
    if process.parent_process_id is not None or incident.assignee == SOAR_ASSIGNEE:
        return
    process.previous_assignee = incident.assignee
    change_incident(
        session,
        incident.id,
        {"assignee": SOAR_ASSIGNEE},
        SOAR,
        now,
        reason="playbook running",
        flush=False,
        lock=False,  # the runner holds the incident's lock
    )


def hand_back(
    session: Session,
    process: SoarProcess,
    incident: Incident,
    definition: PlaybookDefinition,
    now: datetime,
    why: str,
) -> None:
    """Give the incident back as the playbook says (`handBack`) once the run has ended."""
    if process.parent_process_id is not None or incident.assignee != SOAR_ASSIGNEE:
        return  # a child runs inside its parent; a person assigned during the run keeps it
    # `previous`: who had it before; `unassigned` and `keep` (nobody took it over): nobody
    target = process.previous_assignee if definition.hand_back == "previous" else None
    try:
        change_incident(
            session,
            incident.id,
            {"assignee": target},
            SOAR,
            now,
            reason=why,
            flush=False,
            lock=False,  # the runner holds the incident's lock
        )
    except DomainError:  # the previous assignee left the tenant meanwhile
        change_incident(
            session,
            incident.id,
            {"assignee": None},
            SOAR,
            now,
            reason=f"{why}; {target} is no longer a member, left unassigned",
        )


def log_step(
    session: Session,
    process: SoarProcess,
    step_id: str,
    kind: str,
    outcome: str,
    started: datetime,
    now: datetime,
    *,
    action: str | None = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
    next_step: str | None = None,
    attempt: int = 1,
) -> None:
    """Append one entry to the process's step log."""
    session.add(
        SoarStepLog(
            tenant_id=process.tenant_id,
            process_id=process.id,
            step_id=step_id,
            kind=kind,
            action=action,
            attempt=attempt,
            outcome=outcome,
            inputs=inputs or {},
            outputs=outputs or {},
            error=error,
            next_step_id=next_step,
            started_at=started,
            finished_at=now,
        )
    )


def apply_move(
    session: Session,
    process: SoarProcess,
    incident: Incident,
    definition: PlaybookDefinition,
    state: engine.State,
    move: engine.Move,
    now: datetime,
    *,
    question_text: str | None = None,
    asked: dict[str, Any] | None = None,
) -> bool:
    """Write `move` onto the process (and incident, jobs, timeline); True if the run goes on
    at once, False when it now waits or has ended."""
    process.memory = dict(state.memory)
    process.loop_stack = list(state.loops)
    _mirror_loop(process)
    process.steps_run += 1
    process.updated_at = now
    if isinstance(move, engine.Goto):
        process.current_step_id = move.step
        process.status = "RUNNING"
        _clear_question(process)
        return True
    if isinstance(move, engine.Ask):
        step = definition.step(move.step)
        assert isinstance(step, QuestionStep)
        process.status = "WAITING_INPUT"
        process.current_soar_question_step = step.id
        process.current_soar_question = question_text or step.question
        process.current_soar_answer_memory = step.answer_memory
        process.current_soar_options = list(step.options)
        process.current_soar_asked = asked or step.ask.model_dump(exclude_none=True)
        process.timeout_at = move.timeout_at
        _timer(session, process, TIMEOUT, move.timeout_at, now)
        mirror(process, incident, now)
        record(
            session,
            incident.id,
            "soar.question_asked",
            SOAR,
            now,
            changes={"question": process.current_soar_question, "options": step.options},
            reason=f"asked {_whom(process.current_soar_asked)}; "
            f"times out at {move.timeout_at.isoformat()}",
        )
        return False
    if isinstance(move, engine.Sleep):
        process.status = "SLEEPING"
        process.timeout_at = move.until
        _timer(session, process, WAKE, move.until, now)
        mirror(process, incident, now)
        return False
    if isinstance(move, engine.StartChild):
        return _start_child(session, process, incident, move, now)
    assert isinstance(move, engine.Finish)
    end(session, process, incident, definition, move.outcome, move.why, now)
    return False


def end(
    session: Session,
    process: SoarProcess,
    incident: Incident,
    definition: PlaybookDefinition,
    outcome: str,
    why: str,
    now: datetime,
    *,
    actor: Actor = SOAR,
) -> None:
    """Close the run (FINISHED, FAILED or CANCELLED), hand the incident back, wake a parent."""
    process.status = outcome
    process.finished_at = now
    process.timeout_at = None
    _clear_question(process)
    if outcome != "FINISHED":
        process.error = why
    mirror(process, incident, now)
    record(
        session,
        incident.id,
        f"soar.{outcome.lower()}",
        actor,
        now,
        changes={"processId": str(process.id), "playbookId": str(process.playbook_id)},
        reason=why,
    )
    hand_back(session, process, incident, definition, now, f"playbook run {outcome.lower()}")
    if process.parent_process_id is not None:
        _resume_parent(session, process, incident, outcome, why, now)


def _resume_parent(
    session: Session,
    child: SoarProcess,
    incident: Incident,
    outcome: str,
    why: str,
    now: datetime,
) -> None:
    """Report a child's end to the parent waiting at its `playbook` step, and move it on."""
    from muster.soar.service import definition_of  # the service reads saved versions

    parent = session.get(SoarProcess, child.parent_process_id)
    if parent is None or parent.status != "WAITING_CHILD":
        return  # cancelled meanwhile
    definition = definition_of(session, parent.playbook_id, parent.playbook_version)
    step = definition.step(parent.current_step_id or definition.root)
    state = engine.State(dict(parent.memory), [dict(frame) for frame in parent.loop_stack])
    ok = outcome == "FINISHED"
    ended = engine.ChildEnded(ok, dict(child.memory), None if ok else why)
    move = engine.route(definition, state, step, ended, now)
    log_step(
        session,
        parent,
        step.id,
        "playbook",
        "ok" if ok else "error",
        child.created_at,
        now,
        outputs={"processId": str(child.id), "outcome": outcome},
        error=None if ok else why,
        next_step=getattr(move, "step", None),
    )
    if apply_move(session, parent, incident, definition, state, move, now):
        mirror(parent, incident, now)
        schedule_run(session, parent, now)


def _start_child(
    session: Session,
    process: SoarProcess,
    incident: Incident,
    move: engine.StartChild,
    now: datetime,
) -> bool:
    from muster.soar.service import create_process  # the service builds processes

    child = create_process(
        session,
        incident,
        move.playbook,
        trigger="playbook",
        started_by=f"process {process.process_hash}",
        now=now,
        parent=process,
    )
    process.status = "WAITING_CHILD"
    record(
        session,
        incident.id,
        "soar.child_started",
        SOAR,
        now,
        changes={"processId": str(child.id), "parentProcessId": str(process.id)},
        reason=f"step {process.current_step_id!r} runs playbook {move.playbook!r}",
    )
    return False


def _timer(session: Session, process: SoarProcess, kind: str, at: datetime, now: datetime) -> None:
    enqueue(
        session,
        kind,
        {"processId": str(process.id), "token": process.steps_run},
        run_at=at,
        tenant_id=process.tenant_id,
        dedup_key=f"{kind}:{process.id}:{process.steps_run}",
        now=now,
    )


def _whom(asked: dict[str, Any] | None) -> str:
    if not asked:
        return "the analysts"
    if asked.get("email"):
        return f"{asked.get('to')} {asked['email']}"
    return str(asked.get("to", "the analysts"))


def _clear_question(process: SoarProcess) -> None:
    process.current_soar_question_step = None
    process.current_soar_question = None
    process.current_soar_answer_memory = None
    process.current_soar_options = None
    process.current_soar_asked = None
    process.timeout_at = None


def _mirror_loop(process: SoarProcess) -> None:
    if process.loop_stack:
        frame = process.loop_stack[-1]
        process.loop_index = int(frame["index"])
        process.loop_collection = str(frame["step"])
        process.loop_collection_length = len(frame["items"])
    else:
        process.loop_index, process.loop_collection, process.loop_collection_length = 0, None, 0
