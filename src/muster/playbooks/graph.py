"""The whole-graph checks a playbook passes before it is saved (pure; never raises for bad input).

`check` returns every `Problem` it finds, in step order. The rules:

- step ids are unique; `start` names a step; every id a step names (`next`, `onError`,
  `onTimeout`, a branch's `next`, `else`, a loop's `body`) exists;
- every step is reachable from the root (a loop's body through its loop);
- no cycle: only a loop repeats steps, and it does so implicitly (the end of its body returns to
  it). An explicit edge back into a loop, or from a step to an earlier one, is refused with the
  cycle's path;
- a loop's body is every step reachable from its `body` step, and those steps belong to that
  loop alone: a body step may not jump to a step the flow outside the body also reaches (the
  loop's `next` included), and no step outside may jump into the body. An iteration ends at a
  step without a successor; an `end` step inside a body finishes the whole run;
- `when` of a condition branch parses and binds over the incident, `alerts.<field>` and
  `memory.<path>`; `criteria` parses and binds as an incident filter;
- an action step names a registered action, and its `params` fit the action's `Input`: no
  unknown names, every required one present, literal values valid for their field (a value
  holding a template anywhere is left to run time);
- a `playbook` step names another playbook of the tenant (when the names are given), never its
  own playbook.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from muster.playbooks.definition import (
    ActionStep,
    AnyStep,
    ConditionStep,
    LoopStep,
    PlaybookDefinition,
    PlaybookStep,
    QuestionStep,
)
from muster.query import QueryError, Subject, compile_predicate, parse
from muster.soar.actions.base import Action
from muster.soar.templating import is_templated

__all__ = ["Problem", "call_cycles", "check", "edges_of"]

MAX_LISTED = 20  # known actions named in an "unknown action" message


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition: the step (id) it concerns, the field path, why."""

    step: str | None
    field: str
    message: str


Edge = tuple[str, str]  # (field of the step that names the target, target id)


def edges_of(step: AnyStep) -> list[Edge]:
    """The step ids this step names, each with the field naming it (`branches[0].next`)."""
    found: list[Edge] = []
    if isinstance(step, ConditionStep):
        found += [(f"branches[{k}].next", b.next) for k, b in enumerate(step.branches)]
        if step.else_ is not None:
            found.append(("else", step.else_))
    if isinstance(step, LoopStep):
        found.append(("body", step.body))
    if isinstance(step, QuestionStep) and step.on_timeout is not None:
        found.append(("onTimeout", step.on_timeout))
    if step.next is not None:
        found.append(("next", step.next))
    if step.on_error is not None:
        found.append(("onError", step.on_error))
    return found


def check(
    definition: PlaybookDefinition,
    actions: Mapping[str, type[Action]],
    playbook_names: Collection[str] | None = None,
) -> list[Problem]:
    """Every problem of the definition, in step order (empty when it may be saved)."""
    graph = _Graph(definition)
    problems = [*_criteria(definition), *graph.structure()]
    for index, step in enumerate(definition.steps):
        problems += _content(index, step, definition.name, actions, playbook_names)
    return sorted(problems, key=_step_index)


def _step_index(problem: Problem) -> int:
    """The position of the step a problem's field is under (-1 for the playbook's own)."""
    if not problem.field.startswith("steps["):
        return -1
    return int(problem.field[6 : problem.field.index("]")])


class _Graph:
    """The step graph over the first step of each id (later duplicates are only reported)."""

    def __init__(self, definition: PlaybookDefinition) -> None:
        self.definition = definition
        self.ids = [step.id for step in definition.steps]
        self.index: dict[str, int] = {}
        for i, sid in enumerate(self.ids):
            self.index.setdefault(sid, i)
        self.succ: dict[str, list[Edge]] = {}
        self.pred: dict[str, list[tuple[str, str]]] = {sid: [] for sid in self.index}
        for sid, i in self.index.items():
            known = [(f, t) for f, t in edges_of(definition.steps[i]) if t in self.index]
            self.succ[sid] = known
            for field, target in known:
                self.pred[target].append((sid, field))

    def at(self, sid: str, field: str) -> str:
        return f"steps[{self.index[sid]}].{field}"

    def structure(self) -> list[Problem]:
        problems = [*self._duplicates(), *self._dangling(), *self._cycles()]
        root = self.definition.root
        if root not in self.index:
            problems.append(Problem(None, "start", f"names no step: {root!r}"))
        else:
            problems += self._unreachable(root)
        for sid, i in self.index.items():
            step = self.definition.steps[i]
            if isinstance(step, LoopStep) and step.body in self.index:
                problems += self._body(sid, step.body)
        return problems

    def _duplicates(self) -> Iterator[Problem]:
        for i, sid in enumerate(self.ids):
            if self.index[sid] != i:
                message = f"repeats the id of steps[{self.index[sid]}]: {sid!r}"
                yield Problem(sid, f"steps[{i}].id", message)

    def _dangling(self) -> Iterator[Problem]:
        for sid, i in self.index.items():
            for field, target in edges_of(self.definition.steps[i]):
                if target not in self.index:
                    yield Problem(sid, f"steps[{i}].{field}", f"names no step: {target!r}")

    def _reach(self, start: str) -> set[str]:
        seen = {start}
        todo = deque([start])
        while todo:
            for _, target in self.succ[todo.popleft()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    def _unreachable(self, root: str) -> Iterator[Problem]:
        reached = self._reach(root)
        for sid, i in self.index.items():
            if sid not in reached:
                message = f"is never reached from the first step {root!r}"
                yield Problem(sid, f"steps[{i}]", message)

    def _cycles(self) -> Iterator[Problem]:
        """Each edge that closes a cycle (depth first, iterative), with the cycle's path."""
        state: dict[str, int] = {}  # 1 on the current path, 2 finished
        for first in self.index:
            if first in state:
                continue
            path, pending = [first], [iter(self.succ[first])]
            state[first] = 1
            while pending:
                edge = next(pending[-1], None)
                if edge is None:
                    state[path.pop()] = 2
                    pending.pop()
                    continue
                field, target = edge
                if state.get(target) == 1:
                    cycle = " → ".join([*path[path.index(target) :], target])
                    message = (
                        f"goes back to {target!r}, a cycle: {cycle}; only a loop step repeats "
                        "steps (the end of its body returns to it by itself)"
                    )
                    yield Problem(path[-1], self.at(path[-1], field), message)
                elif target not in state:
                    state[target] = 1
                    path.append(target)
                    pending.append(iter(self.succ[target]))

    def _body(self, loop: str, body: str) -> Iterator[Problem]:
        """Steps of the loop's body that the flow outside the body also reaches."""
        region = self._reach(body)
        if loop in region:
            return  # a cycle, reported as such
        for sid in sorted(region, key=self.index.__getitem__):
            outside = [
                (p, f) for p, f in self.pred[sid] if p not in region and (p, f) != (loop, "body")
            ]
            if not outside:
                continue
            inside = [(p, f) for p, f in self.pred[sid] if p in region]
            for p, f in inside:
                message = (
                    f"jumps out of the body of loop {loop!r} to {sid!r}, which is also reached "
                    f"from {outside[0][0]!r} outside the body; a body step ends the iteration "
                    "by having no successor"
                )
                yield Problem(p, self.at(p, f), message)
            if inside:
                continue
            for p, f in outside:
                message = f"enters the body of loop {loop!r} at {sid!r} without the loop"
                if p == loop:
                    message = f"names {sid!r}, a step of the loop's own body"
                yield Problem(p, self.at(p, f), message)


def call_cycles(
    definition: PlaybookDefinition, calls: Mapping[str, Collection[str]]
) -> list[Problem]:
    """Sub-playbook steps through which the playbook would end up running itself again;
    `calls` maps each playbook name of the tenant to the names its playbook steps run."""
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
        if isinstance(step, PlaybookStep):
            path = _call_path(step.playbook, definition.name, calls)
            if path is not None:
                chain = " → ".join([definition.name, *path])
                message = f"runs {step.playbook!r}, which leads back to this playbook: {chain}"
                problems.append(Problem(step.id, f"steps[{index}].playbook", message))
    return problems


def _call_path(start: str, goal: str, calls: Mapping[str, Collection[str]]) -> list[str] | None:
    """The shortest chain of playbook names from `start` to `goal` (both included), or None."""
    came_from: dict[str, str | None] = {start: None}
    todo = deque([start])
    while todo:
        name = todo.popleft()
        if name == goal:
            path = [name]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for callee in calls.get(name, ()):
            if callee not in came_from:
                came_from[callee] = name
                todo.append(callee)
    return None


def _criteria(definition: PlaybookDefinition) -> list[Problem]:
    if definition.criteria is None or not definition.criteria.strip():
        return []
    found = _filter_problem(definition.criteria, Subject.INCIDENT)
    return [] if found is None else [Problem(None, "criteria", found)]


def _filter_problem(text: str, subject: Subject) -> str | None:
    """Why the filter cannot be used over `subject`, or None when it parses and binds."""
    try:
        compile_predicate(parse(text), subject)
    except QueryError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first['line']}, column {first['column']})" if "line" in first else ""
        return f"{first.get('message', exc.detail)}{where}"
    except RecursionError:
        return "is nested too deeply"
    return None


def _content(
    index: int,
    step: AnyStep,
    own_name: str,
    actions: Mapping[str, type[Action]],
    playbook_names: Collection[str] | None,
) -> list[Problem]:
    at = f"steps[{index}]"
    if isinstance(step, ConditionStep):
        return [
            Problem(step.id, f"{at}.branches[{k}].when", message)
            for k, branch in enumerate(step.branches)
            if (message := _filter_problem(branch.when, Subject.PROCESS)) is not None
        ]
    if isinstance(step, PlaybookStep):
        if step.playbook == own_name:
            return [Problem(step.id, f"{at}.playbook", "a playbook may not run itself")]
        if playbook_names is not None and step.playbook not in playbook_names:
            message = f"names no playbook of this tenant: {step.playbook!r}"
            return [Problem(step.id, f"{at}.playbook", message)]
        return []
    if isinstance(step, ActionStep):
        action = actions.get(step.action)
        if action is None:
            known = ", ".join(sorted(actions)[:MAX_LISTED]) or "none"
            message = f"is not a known action: {step.action!r} (known: {known})"
            return [Problem(step.id, f"{at}.action", message)]
        return list(_params(at, step, action))
    return []


def _params(at: str, step: ActionStep, action: type[Action]) -> Iterator[Problem]:
    """The step's params against the action's `Input`, field by field."""
    accepted = _accepted_names(action.Input)
    given: dict[str, str] = {}  # field name -> the key the step used
    for key, value in step.params.items():
        name = accepted.get(key)
        if name is None:
            message = f"is not a parameter of {action.name!r} (its parameters: "
            message += ", ".join(_spellings(action.Input)) + ")"
            yield Problem(step.id, f"{at}.params.{key}", message)
            continue
        if name in given:
            message = f"names the same parameter as {given[name]!r}"
            yield Problem(step.id, f"{at}.params.{key}", message)
            continue
        given[name] = key
        adapter = _adapter(action.Input, name)
        if adapter is None or is_templated(value):  # templated: checked when rendered
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                yield Problem(step.id, f"{at}.params.{key}{_loc(err['loc'])}", err["msg"])
    for name, info in action.Input.model_fields.items():
        if info.is_required() and name not in given:
            spelled = info.alias or name
            message = f"is required by action {action.name!r}"
            yield Problem(step.id, f"{at}.params.{spelled}", message)


def _loc(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


@functools.lru_cache(maxsize=512)
def _accepted_names(model: type[Any]) -> dict[str, str]:
    """Every spelling a parameter may take (field name and aliases) -> the field name."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        names[name] = name
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names[alias] = name
    return names


def _spellings(model: type[Any]) -> list[str]:
    fields: dict[str, FieldInfo] = model.model_fields
    return [info.alias or name for name, info in fields.items()]


@functools.lru_cache(maxsize=2048)
def _adapter(model: type[Any], name: str) -> TypeAdapter[Any] | None:
    """A validator for one field of an action input (None if the type cannot be adapted)."""
    info: FieldInfo = model.model_fields[name]
    annotated: Any = info.annotation
    if info.metadata:  # constraints and validators: `Field(ge=1)`, `AfterValidator(...)`
        annotated = Annotated[(annotated, *info.metadata)]
    try:
        return TypeAdapter(annotated)
    except Exception:  # an exotic annotation: leave the value to run-time validation
        return None
