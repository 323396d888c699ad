"""A playbook as data: its settings and its step graph (the API body, the YAML file, the stored
version). Pure: parsing and shape only; `muster.playbooks.graph` checks the graph as a whole.

Steps name their successors by id. A step without `next` ends the playbook, or, inside a
loop's body, ends one iteration (the loop then takes the next item, and after the last one
goes to its own `next`). Every step may name `onError`: where to go when it fails, instead of
failing the run. Step kinds:

- `action`: run a registered action (`muster.soar.actions`) with templated `params`.
- `condition`: `branches` tried in order (the first is "if", the rest "else if"), each a
  filter expression (`docs/query-language.md`) over the incident, `memory.<key>` and
  `alerts.<field>`; the first that matches names the next step, else `else`.
- `question`: ask a person; the answer goes to `memory[answerMemory]`; after `timeout`
  without an answer the run goes to `onTimeout` (or, when none is named, to `next`).
- `loop`: run the steps from `body` once per element of `over` (`alerts`, `entities` or
  `memory.<key>`), with the element in `memory[as]` and its index in `memory[as + "Index"]`.
- `playbook`: run another playbook of the tenant as a child process and wait for it.
- `end`: finish the run here (`outcome` FINISHED or FAILED).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, field_serializer, field_validator, model_validator

from muster.schema_base import ApiModel, Name, ShortText, Text

STEP_ID = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"
StepId = Annotated[str, Field(pattern=STEP_ID)]
MemoryKey = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
Trigger = Literal["incident", "email", "manual"]
HandBack = Literal["previous", "unassigned", "keep"]

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TIMEOUT = timedelta(days=30)


def parse_duration(value: Any) -> timedelta:
    """`90`, `"90s"`, `"15m"`, `"2h"`, `"1d"` → timedelta (1 second to 30 days)."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        delta = timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    else:
        raise ValueError('must be a duration such as 90, "90s", "15m", "2h" or "1d"')
    if not timedelta(seconds=1) <= delta <= MAX_TIMEOUT:
        raise ValueError("must be between 1 second and 30 days")
    return delta


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling (`15m`, `90s`)."""
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Step(ApiModel):
    id: StepId
    name: ShortText = ""
    next: StepId | None = None
    on_error: StepId | None = None


class ActionStep(_Step):
    """Run one action."""

    kind: Literal["action"]
    action: Annotated[str, Field(min_length=1, max_length=100)]
    params: dict[str, Any] = Field(default_factory=dict)
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts on retryable errors")


class Branch(ApiModel):
    """One `if` / `else if` of a condition step."""

    when: Text
    next: StepId


class ConditionStep(_Step):
    """If / else-if / else."""

    kind: Literal["condition"]
    branches: list[Branch] = Field(min_length=1, max_length=50)
    else_: StepId | None = Field(default=None, alias="else")


class Ask(ApiModel):
    """Who is asked: the incident's assignee, the tenant's analysts, or an e-mail address."""

    to: Literal["assignee", "analysts", "email"] = "analysts"
    email: ShortText | None = None

    @model_validator(mode="after")
    def _email_needed(self) -> Ask:
        if self.to == "email" and not self.email:
            raise ValueError('ask.email is required when ask.to is "email"')
        return self


class QuestionStep(_Step):
    """Ask a person and wait for the answer (or the timeout)."""

    kind: Literal["question"]
    question: Text
    options: list[ShortText] = Field(default_factory=list, max_length=20)
    answer_memory: MemoryKey
    ask: Ask = Field(default_factory=Ask)
    timeout: timedelta = Field(default=timedelta(hours=1))
    on_timeout: StepId | None = None

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_serializer("timeout")
    def _spelled(self, value: timedelta) -> str:
        return format_duration(value)

    @field_validator("options")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("options must be distinct")
        return value


class LoopStep(_Step):
    """Run `body` once per element of a collection."""

    kind: Literal["loop"]
    over: Annotated[str, Field(pattern=r"^(alerts|entities|memory\.[A-Za-z_][A-Za-z0-9_]*)$")]
    as_: MemoryKey = Field(default="item", alias="as")
    body: StepId
    max_items: int = Field(default=1000, ge=1, le=10_000)


class PlaybookStep(_Step):
    """Run another playbook of the tenant (by name) as a child process and wait for it."""

    kind: Literal["playbook"]
    playbook: Name


class EndStep(_Step):
    """Finish the run."""

    kind: Literal["end"]
    outcome: Literal["FINISHED", "FAILED"] = "FINISHED"


AnyStep = ActionStep | ConditionStep | QuestionStep | LoopStep | PlaybookStep | EndStep
Step = Annotated[AnyStep, Field(discriminator="kind")]


class PlaybookDefinition(ApiModel):
    """Everything a playbook is; what the API takes and a version stores."""

    name: Name
    description: Text = ""
    trigger: Trigger = "incident"
    enabled: bool = True
    criteria: Text | None = None
    weight: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    start: StepId | None = Field(default=None, description="the root step; default: the first")
    hand_back: HandBack = Field(
        default="previous",
        description="who gets the incident when the run ends: the person assigned before "
        "SOAR took it, nobody, or whoever it is assigned to then",
    )
    steps: list[Step] = Field(min_length=1, max_length=500)

    @property
    def root(self) -> str:
        """The id of the step the run starts with."""
        return self.start or self.steps[0].id

    def step(self, step_id: str) -> AnyStep:
        """The step with this id (the graph was validated, so it exists)."""
        return self.by_id()[step_id]

    def by_id(self) -> dict[str, AnyStep]:
        """step id → step."""
        return {step.id: step for step in self.steps}
