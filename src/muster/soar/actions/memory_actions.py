"""Actions on the run itself: write values to memory, wait for a while.

Both are pure computations; the engine does the effect. It merges `set_memory`'s output into
memory (the class says so with `writes_memory = True`) and, for `wait` (`waits = True`), puts
the run to sleep until the output's `until`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from muster.playbooks.definition import MemoryKey, parse_duration
from muster.soar.actions.base import Action, ActionContext, ActionOutput, register
from muster.soar.actions.camel import CamelInput, CamelOutput


class SetMemoryInput(CamelInput):
    """Memory keys and their values."""

    values: Annotated[dict[MemoryKey, Any], Field(min_length=1, max_length=100)]


@register
class SetMemory(Action):
    """Write `values` into the run's memory (the engine merges the output into memory)."""

    name = "set_memory"
    # no I/O: it runs inside the step's transaction (one commit per step)
    in_transaction: ClassVar[bool] = True
    summary = (
        "Set memory keys: the output is `values`, which the engine merges into memory "
        "(writes_memory)."
    )
    Input = SetMemoryInput
    Output = ActionOutput
    writes_memory: ClassVar[bool] = True

    def run(self, ctx: ActionContext, params: SetMemoryInput) -> ActionOutput:
        """The output holds exactly `params.values`."""
        return ActionOutput.model_validate(params.values)


class WaitInput(CamelInput):
    """How long to wait."""

    duration: timedelta = Field(description='90, "30s", "5m", "2h" or "1d" (at most 30 days)')

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class WaitOutput(CamelOutput):
    """When the wait ends."""

    until: str = Field(description="ISO 8601 instant the run sleeps until")
    seconds: int


@register
class Wait(Action):
    """Pause the run for `duration` (the engine sleeps until the output's `until`)."""

    name = "wait"
    # no I/O: it runs inside the step's transaction (one commit per step)
    in_transaction: ClassVar[bool] = True
    summary = "Wait for a duration such as 30s or 5m; the engine resumes the run afterwards."
    Input = WaitInput
    Output = WaitOutput
    waits: ClassVar[bool] = True

    def run(self, ctx: ActionContext, params: WaitInput) -> WaitOutput:
        """`until` is `ctx.now + params.duration`."""
        until = ctx.now + params.duration
        return WaitOutput(until=until.isoformat(), seconds=int(params.duration.total_seconds()))
