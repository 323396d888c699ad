"""Running a process: steps in write transactions, from the jobs the worker claims.

A `soar.run` job runs a process from its current step until it waits (a question, a `wait`,
a child playbook) or ends. Steps on muster's own data run several to a transaction (up to
`MAX_STEPS_PER_TRANSACTION` or `TRANSACTION_BUDGET_S`), each with its log entry and its
move, so they commit together or not at all; a worker killed mid-run leaves the process at
its last committed step, and the job (whose lease then expires) is taken over by another
worker, which continues from there. Actions on the outside world run between two
transactions, so no database lock is held while a webhook answers, and may be repeated after
a crash, with the same idempotency key (`<processId>:<stepsRun>`).

`soar.timeout` and `soar.wake` jobs are the timers: they continue a run that still waits at
the step they were set for (a stale timer is a no-op).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session

from muster import telemetry
from muster.clock import Clock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import SOAR
from muster.incidents.service import get_incident
from muster.incidents.timeline import record
from muster.models import SoarProcess, Tenant
from muster.playbooks.definition import (
    ActionStep,
    AnyStep,
    LoopStep,
    PlaybookDefinition,
)
from muster.soar import engine
from muster.soar.actions.base import Action, ActionContext, ActionInput, load_actions
from muster.soar.calls import (
    ActionCrashed,
    call_in_transaction,
    call_outside,
    call_read_only,
    longest_call,
)
from muster.soar.service import cached_definition_of
from muster.soar.templating import TemplateError, render
from muster.soar.transitions import ACTIVE, apply_move, end, log_step, mirror, take_incident
from muster.soar.views import (
    IncidentView,
    condition_holds,
    loop_items,
    question_text,
    whom_asked,
)

log = structlog.get_logger("muster.soar")

FinishJob = Callable[[Session], None]
# Called at the start of every transaction of a run: renews the job's lease to at least the
# given time from now and raises `LeaseLost` (rolling the transaction back) if another worker
# has taken the job over, so a worker that lost its job never commits a step.
HoldJob = Callable[[Session, float], None]
# Steps that need no outside world run several to a transaction: they commit together or not
# at all, so a crash repeats them all (their effects were rolled back too). The budget bounds
# how long one run holds SQLite's write lock.
MAX_STEPS_PER_TRANSACTION = 50
TRANSACTION_BUDGET_S = 0.02
# A run's transaction reads its incident locked (`get_incident(lock=True)`): an ingest in
# another process that adds alerts to the incident waits for the steps to commit (or they
# wait for it, and read its version), instead of the steps' versioned UPDATE matching no row
# and crashing the run (StaleDataError). Ingest waits while the steps run, so whatever is
# slow stays out of that transaction: outside-world actions and `read_only` actions run
# between transactions (`_run_outside`).


@dataclass(frozen=True, slots=True)
class Expect:
    """What must still hold for a delayed event to apply (else it is stale and dropped)."""

    status: str
    steps_run: int
    step_id: str | None = None


@dataclass(frozen=True, slots=True)
class _External:
    """An action to run outside any transaction, then report as `event`."""

    action: type[Action]
    params: ActionInput
    ctx: ActionContext
    retries: int
    expect: Expect

    def longest(self) -> float:
        """Seconds the call may take, retries included (the job's lease must cover it)."""
        return longest_call(self.action, self.ctx.settings, self.retries)


class Runner:
    """Executes processes for the worker's `soar.*` jobs."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        actions: Mapping[str, type[Action]] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.actions = dict(actions) if actions is not None else load_actions()

    def advance(
        self,
        tenant_id: uuid.UUID,
        process_id: uuid.UUID,
        finish_job: FinishJob,
        *,
        event: engine.Event | None = None,
        expect: Expect | None = None,
        hold_job: HoldJob | None = None,
    ) -> None:
        """Run the process until it waits or ends; `finish_job` is called in the last
        transaction (with the job's completion, so both commit together)."""
        external: _External | None = None
        outside = 0.0  # seconds the last outside-world action took (part of its step's time)
        hold = hold_job or (lambda _session, _seconds: None)
        while True:
            try:
                outcome = self._step(
                    tenant_id, process_id, finish_job, hold, event, expect, external, outside
                )
                if isinstance(outcome, _External):
                    began = time.perf_counter()
                    external, event, expect = outcome, self._run_outside(outcome), outcome.expect
                    outside = time.perf_counter() - began
                else:
                    external, event, expect, outside = None, None, None, 0.0
            except ActionCrashed as crash:
                log.warning("soar_action_crashed", process=str(process_id), error=str(crash))
                self._fail(tenant_id, process_id, finish_job, hold, crash)
                return
            if outcome is None:
                return

    # ---------------------------------------------------------------- steps in one transaction

    def _step(
        self,
        tenant_id: uuid.UUID,
        process_id: uuid.UUID,
        finish_job: FinishJob,
        hold: HoldJob,
        event: engine.Event | None,
        expect: Expect | None,
        external: _External | None,
        outside: float = 0.0,
    ) -> _External | bool | None:
        """Run steps in one transaction until the run waits, ends, reaches an outside-world
        action or spends its budget; None when the run stopped (job finished), True to go on
        in a new transaction, or the outside action to run first."""
        with unit_of_work(self.db, TenantContext(tenant_id), write=True) as session:
            hold(session, 0.0)
            now = self.clock.now()
            process = session.get(SoarProcess, process_id)
            if process is None or not _applies(process, expect):
                finish_job(session)
                return None
            incident = get_incident(session, process.incident_id, lock=True)
            definition = self._definition(session, process)
            if process.status == "PENDING":
                process.status = "RUNNING"
                take_incident(session, process, incident, now)
                mirror(process, incident, now)
            deadline = time.monotonic() + TRANSACTION_BUDGET_S
            for _ in range(MAX_STEPS_PER_TRANSACTION):
                began, outside = time.perf_counter() - outside, 0.0
                step = definition.step(process.current_step_id or definition.root)
                state = engine.State(
                    dict(process.memory), [dict(frame) for frame in process.loop_stack]
                )
                view = IncidentView(session, incident)  # fresh: the last step may have changed it
                move, logged = self._decide(
                    session, process, definition, step, state, view, event, external, now
                )
                event, external = None, None
                if isinstance(move, _External):
                    hold(session, move.longest())  # the lease outlasts the outside action
                    return move  # the steps so far commit; the action runs outside
                kind, outcome, inputs, outputs, error = logged
                if outcome == "timeout":
                    record(
                        session,
                        incident.id,
                        "soar.question_timed_out",
                        SOAR,
                        now,
                        changes={"question": process.current_soar_question},
                        reason=f"nobody answered in time; the run goes on at "
                        f"{getattr(move, 'step', None) or 'its end'}",
                    )
                log_step(
                    session,
                    process,
                    step.id,
                    kind,
                    outcome,
                    now,
                    self.clock.now(),
                    action=step.action if isinstance(step, ActionStep) else None,
                    inputs=inputs,
                    outputs=outputs,
                    error=error,
                    next_step=getattr(move, "step", None),
                )
                question, asked = None, None
                if isinstance(move, engine.Ask):
                    question = question_text(
                        definition.step(move.step), process, state.memory, view, self.clock.now()
                    )
                    asked = whom_asked(
                        definition.step(move.step), process, state.memory, view, self.clock.now()
                    )
                moved = apply_move(
                    session,
                    process,
                    incident,
                    definition,
                    state,
                    move,
                    now,
                    question_text=question,
                    asked=asked,
                )
                telemetry.observe_step(kind, time.perf_counter() - began)
                if not moved:
                    finish_job(session)
                    return None
                if time.monotonic() > deadline:
                    break
                now = self.clock.now()
            mirror(process, incident, now)
            return True

    def _fail(
        self,
        tenant_id: uuid.UUID,
        process_id: uuid.UUID,
        finish_job: FinishJob,
        hold: HoldJob,
        crash: ActionCrashed,
    ) -> None:
        """End the run as FAILED; the crashed transaction (its steps included) left nothing,
        so the run stays at its last committed step, from where a retry starts."""
        with unit_of_work(self.db, TenantContext(tenant_id), write=True) as session:
            hold(session, 0.0)
            now = self.clock.now()
            process = session.get(SoarProcess, process_id)
            if process is not None and process.status in ACTIVE:
                incident = get_incident(session, process.incident_id, lock=True)
                definition = self._definition(session, process)
                log_step(
                    session, process, crash.step_id, "action", "error", now, now, error=crash.error
                )
                why = f"step {crash.step_id!r} crashed: {crash.error}"
                end(session, process, incident, definition, "FAILED", why, now)
            finish_job(session)

    def _decide(
        self,
        session: Session,
        process: SoarProcess,
        definition: PlaybookDefinition,
        step: AnyStep,
        state: engine.State,
        view: IncidentView,
        event: engine.Event | None,
        external: _External | None,
        now: datetime,
    ) -> tuple[Any, tuple[str, str, dict[str, Any], dict[str, Any], str | None]]:
        """The move after `step` (and what to log), or an `_External` action to run first."""
        if external is not None and event is not None and isinstance(step, ActionStep):
            inputs = external.params.model_dump(mode="json")
            return self._after_action(definition, state, step, external.action, event, now, inputs)
        if event is not None:
            return engine.route(definition, state, step, event, now), engine.logged(step, event)
        if not isinstance(step, ActionStep):
            items = loop_items(step, state.memory, view) if isinstance(step, LoopStep) else None
            move = engine.arrive(
                definition,
                state,
                step,
                now,
                evaluate=lambda when: condition_holds(when, state.memory, view, self.clock.now()),
                items=items,
            )
            assert move is not None
            return move, (type(step).__name__.removesuffix("Step").lower(), "ok", {}, {}, None)
        action = self.actions.get(step.action)
        if action is None:
            failed = engine.Failed(f"unknown action {step.action!r}")
            return engine.route(definition, state, step, failed, now), engine.logged(step, failed)
        wants_alerts = "alerts" in str(step.params) or "entities" in str(step.params)
        try:
            rendered = render(
                step.params, view.for_template(process, state.memory, wants_alerts, now)
            )
            params = action.Input.model_validate(rendered)
        except (TemplateError, ValidationError) as exc:
            failed = engine.Failed(f"bad parameters: {exc}")
            return engine.route(definition, state, step, failed, now), engine.logged(step, failed)
        ctx = ActionContext(
            tenant_id=process.tenant_id,
            process_id=process.id,
            step_id=step.id,
            incident=view.as_json(),
            memory=dict(state.memory),
            now=now,
            settings=self.settings,
            idempotency_key=f"{process.id}:{process.steps_run}",
        )
        expect = Expect("RUNNING", process.steps_run, step.id)
        if not action.in_transaction:  # outside-world actions see the tenant's settings
            if not action.read_only:
                ctx.tenant_settings = _tenant_settings(session, process.tenant_id)
            return _External(action, params, ctx, step.retries, expect), ("", "", {}, {}, None)
        ctx.session = session
        result = call_in_transaction(action, ctx, params)
        inputs = params.model_dump(mode="json")
        return self._after_action(definition, state, step, action, result, now, inputs)

    def _after_action(
        self,
        definition: PlaybookDefinition,
        state: engine.State,
        step: ActionStep,
        action: type[Action],
        result: engine.Event,
        now: datetime,
        inputs: dict[str, Any],
    ) -> tuple[Any, tuple[str, str, dict[str, Any], dict[str, Any], str | None]]:
        if isinstance(result, engine.Done):
            state.memory[step.id] = result.output
            if getattr(action, "writes_memory", False):
                state.memory.update(result.output)
            if getattr(action, "waits", False) and "until" in result.output:
                until = datetime.fromisoformat(str(result.output["until"]))
                return engine.Sleep(until), ("action", "waiting", inputs, result.output, None)
            move = engine.route(definition, state, step, result, now)
            return move, ("action", "ok", inputs, result.output, None)
        assert isinstance(result, engine.Failed)
        move = engine.route(definition, state, step, result, now)
        return move, ("action", "error", inputs, {}, result.error)

    # ---------------------------------------------------------------- helpers

    def _run_outside(self, external: _External) -> engine.Event:
        """Run an action between the run's write transactions: a `read_only` one in a
        read-only transaction of its own (nothing locked), any other with its retries."""
        if external.action.read_only:
            return call_read_only(self.db, external.action, external.ctx, external.params)
        return call_outside(external.action, external.ctx, external.params, external.retries)

    def _definition(self, session: Session, process: SoarProcess) -> PlaybookDefinition:
        return cached_definition_of(session, process.playbook_id, process.playbook_version)


def _applies(process: SoarProcess, expect: Expect | None) -> bool:
    if expect is None:
        return process.status in ("PENDING", "RUNNING")
    if process.status != expect.status or process.steps_run != expect.steps_run:
        return False
    return expect.step_id is None or process.current_step_id == expect.step_id


def _tenant_settings(session: Session, tenant_id: uuid.UUID) -> dict[str, Any]:
    tenant = session.get(Tenant, tenant_id)
    return dict(tenant.settings or {}) if tenant is not None else {}
