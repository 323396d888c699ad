"""Step sequencing: where a run goes after each step. Pure: plain data in, a `Move` out.

The runner (`muster.soar.runner`) executes a step and reports what happened as an `Event`;
`route` answers with the move: go to another step, ask a question, sleep, start a child
playbook, or finish. Loops live here too: arriving at a loop step pushes a frame (the items,
the index) on `state.loops`; a step without `next` inside a loop body ends the iteration, and
after the last item the run continues at the loop's own `next`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from muster.playbooks.definition import (
    ActionStep,
    AnyStep,
    ConditionStep,
    EndStep,
    LoopStep,
    PlaybookDefinition,
    PlaybookStep,
    QuestionStep,
)

Evaluate = Callable[[str], bool]  # a condition's `when` over the incident and the memory


@dataclass(slots=True)
class State:
    """The part of a process that sequencing reads and changes."""

    memory: dict[str, Any]
    loops: list[dict[str, Any]] = field(default_factory=list)  # innermost last


# ---------------------------------------------------------------------------- what happened


@dataclass(frozen=True, slots=True)
class Done:
    """The step's work succeeded (an action's output, or nothing for other kinds)."""

    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Failed:
    """The step failed for good (retries spent or not retryable)."""

    error: str


@dataclass(frozen=True, slots=True)
class Answered:
    """A person answered the pending question."""

    answer: str
    by: str


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Nobody answered the question before its timeout."""


@dataclass(frozen=True, slots=True)
class ChildEnded:
    """The child playbook's run ended."""

    ok: bool
    memory: dict[str, Any]
    error: str | None = None


Event = Done | Failed | Answered | TimedOut | ChildEnded

# ---------------------------------------------------------------------------- where to go


@dataclass(frozen=True, slots=True)
class Goto:
    """Run `step` next, at once."""

    step: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class Ask:
    """Wait for an answer to `step`'s question until `timeout_at`."""

    step: str
    timeout_at: datetime


@dataclass(frozen=True, slots=True)
class Sleep:
    """Stay at the (waiting) step until `until`; then it counts as `Done`."""

    until: datetime


@dataclass(frozen=True, slots=True)
class StartChild:
    """Run the tenant's playbook `playbook` as a child and wait for it."""

    playbook: str


@dataclass(frozen=True, slots=True)
class Finish:
    """The run ends: FINISHED or FAILED, with why."""

    outcome: str
    why: str


Move = Goto | Ask | Sleep | StartChild | Finish


def arrive(
    definition: PlaybookDefinition,
    state: State,
    step: AnyStep,
    now: datetime,
    *,
    evaluate: Evaluate,
    items: Sequence[Any] | None = None,
) -> Move | None:
    """What arriving at a step that does no work means (condition, loop, question, end,
    sub-playbook); None for an action step, which the runner must execute first. `items` is
    the loop's collection, resolved by the runner."""
    if isinstance(step, ActionStep):
        return None
    if isinstance(step, ConditionStep):
        for index, branch in enumerate(step.branches):
            if evaluate(branch.when):
                label = "if" if index == 0 else f"else if #{index}"
                return Goto(branch.next, f"{label} `{branch.when}` matched")
        if step.else_:
            return Goto(step.else_, "no branch matched: else")
        return _following(definition, state, step, "no branch matched and there is no else")
    if isinstance(step, QuestionStep):
        return Ask(step.id, now + step.timeout)
    if isinstance(step, LoopStep):
        collection = list(items or [])[: step.max_items]
        if not collection:
            return _following(definition, state, step, f"nothing to loop over in {step.over}")
        state.loops.append({"step": step.id, "index": 0, "items": collection, "as": step.as_})
        _bind_item(state)
        return Goto(step.body, f"loop over {len(collection)} item(s) of {step.over}")
    if isinstance(step, PlaybookStep):
        return StartChild(step.playbook)
    if isinstance(step, EndStep):
        state.loops.clear()
        return Finish(step.outcome, f"reached end step {step.id!r}")
    raise TypeError(f"unknown step kind {type(step).__name__}")


def route(
    definition: PlaybookDefinition,
    state: State,
    step: AnyStep,
    event: Event,
    now: datetime,
) -> Move:
    """Where the run goes after `event` happened at `step` (memory updated in `state`)."""
    if isinstance(event, Failed):
        state.memory["lastError"] = {"step": step.id, "error": event.error}
        if step.on_error:
            return Goto(step.on_error, f"step {step.id!r} failed: {event.error}; onError")
        return Finish("FAILED", f"step {step.id!r} failed: {event.error}")
    if isinstance(event, Answered):
        assert isinstance(step, QuestionStep)
        state.memory[step.answer_memory] = event.answer
        state.memory[f"{step.answer_memory}By"] = event.by
        return _following(definition, state, step, f"answered {event.answer!r} by {event.by}")
    if isinstance(event, TimedOut):
        assert isinstance(step, QuestionStep)
        if step.on_timeout:
            return Goto(step.on_timeout, "nobody answered in time: onTimeout")
        return _following(definition, state, step, "nobody answered in time (no onTimeout)")
    if isinstance(event, ChildEnded):
        state.memory[step.id] = event.memory
        if not event.ok:
            return route(definition, state, step, Failed(event.error or "child failed"), now)
        return _following(definition, state, step, "child playbook finished")
    return _following(definition, state, step, "done")


def _following(definition: PlaybookDefinition, state: State, step: AnyStep, why: str) -> Move:
    """The step after `step`: its `next`, else the next loop iteration, else the end."""
    if step.next:
        return Goto(step.next, why)
    return end_of_chain(definition, state, why)


def end_of_chain(definition: PlaybookDefinition, state: State, why: str) -> Move:
    """A chain of steps ran out: next loop item, after the loop, or the end of the run."""
    while state.loops:
        frame = state.loops[-1]
        frame["index"] += 1
        loop = definition.step(frame["step"])
        assert isinstance(loop, LoopStep)
        if frame["index"] < len(frame["items"]):
            _bind_item(state)
            return Goto(loop.body, f"loop {loop.id!r}: item {frame['index'] + 1}")
        state.loops.pop()
        state.memory.pop(frame["as"], None)
        state.memory.pop(f"{frame['as']}Index", None)
        if loop.next:
            return Goto(loop.next, f"loop {loop.id!r} done")
    return Finish("FINISHED", f"{why}; no next step")


def _bind_item(state: State) -> None:
    frame = state.loops[-1]
    state.memory[frame["as"]] = frame["items"][frame["index"]]
    state.memory[f"{frame['as']}Index"] = frame["index"]


def retry_delay(attempt: int) -> timedelta:
    """Pause before retry `attempt` (1, 2, …) of a retryable action: 0.5 s doubling, ≤ 8 s."""
    return timedelta(seconds=min(8.0, 0.5 * 2 ** (attempt - 1)))


def logged(
    step: AnyStep, event: Event
) -> tuple[str, str, dict[str, Any], dict[str, Any], str | None]:
    """What the step log records of `event` on `step`: kind, outcome, input, output, error."""
    kind = type(step).__name__.removesuffix("Step").lower()
    if isinstance(event, Failed):
        return kind, "error", {}, {}, event.error
    if isinstance(event, TimedOut):
        return kind, "timeout", {}, {}, None
    if isinstance(event, Answered):
        return kind, "answered", {}, {"answer": event.answer, "by": event.by}, None
    if isinstance(event, ChildEnded):
        return kind, "ok" if event.ok else "error", {}, {"memory": event.memory}, event.error
    return kind, "ok", {}, event.output, None
