"""What an action is, what it may use, and the registry that finds it by name.

An action is a class with a typed `Input` and `Output` (Pydantic models), a `timeout` and the
exception types after which a retry may succeed (`retryable`). The engine renders the step's
`params` (`muster.soar.templating`), validates them against `Input`, calls `run`, validates
the result against `Output`, and stores it in the step log (and in memory when the step says
so). Two families:

- `in_transaction = True`: actions on muster's own data (set severity, comment, resolve…).
  They run inside the step's write transaction with `ctx.session` (scoped to the tenant), so
  their effect and the step's progress commit together: exactly once in effect. Such an
  action refuses bad input with a `DomainError` *before* it writes (the step then fails and
  the transaction goes on); any other exception rolls the whole transaction back and fails
  the run.
- `read_only = True` (with `in_transaction = False`): actions that only read muster's data
  (`related_incidents`). They run between the step's write transactions, in a read-only
  transaction of their own (`ctx.session`), so a slow read holds no lock on the incident
  (an ingest adding alerts to it would wait). Their result is applied in the next write
  transaction, if the run is still at that step; repeating one after a crash is harmless.
- `in_transaction = False` (the default): actions that talk to the outside world (webhook,
  e-mail, HTTP request). They run outside any transaction (`ctx.session` is None) and may be
  repeated after a crash, so they send `ctx.idempotency_key` to the receiver (an
  `Idempotency-Key` header, the e-mail's Message-ID).

Plugins add actions through the entry-point group `muster.actions`: each entry point names an
`Action` subclass (`ACTIONS` is filled by `load_actions`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from muster.config import Settings

ENTRY_POINT_GROUP = "muster.actions"


class ActionInput(BaseModel):
    """Base of action inputs: camelCase or snake_case names, unknown parameters refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ActionOutput(BaseModel):
    """Base of action outputs."""

    model_config = ConfigDict(extra="allow")


class RetryableError(Exception):
    """A failure worth retrying (a timeout, a 5xx): the step is attempted again."""


@dataclass(slots=True)
class ActionContext:
    """What an action may use. `incident` is the incident as the API shows it (camelCase)."""

    tenant_id: uuid.UUID
    process_id: uuid.UUID
    step_id: str
    incident: Mapping[str, Any]
    memory: Mapping[str, Any]
    now: datetime
    settings: Settings
    idempotency_key: str
    session: Session | None = None  # only for `in_transaction` and `read_only` actions
    tenant_settings: Mapping[str, Any] = field(default_factory=dict)


class Action:
    """Base class of every action; subclasses set the class attributes and `run`."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Input: ClassVar[type[ActionInput]] = ActionInput
    Output: ClassVar[type[ActionOutput]] = ActionOutput
    timeout: ClassVar[float] = 10.0  # seconds
    retryable: ClassVar[tuple[type[BaseException], ...]] = (RetryableError,)
    in_transaction: ClassVar[bool] = False
    read_only: ClassVar[bool] = False

    @classmethod
    def time_limit(cls, settings: Settings) -> float:
        """The longest one attempt may take under `settings` (the lease covers it)."""
        return cls.timeout

    def run(self, ctx: ActionContext, params: Any) -> ActionOutput:
        """Do the work; raise to fail the step (a `retryable` exception allows a retry)."""
        raise NotImplementedError


ACTIONS: dict[str, type[Action]] = {}


def register(action: type[Action]) -> type[Action]:
    """Class decorator: make `action` available to playbooks under `action.name`."""
    if action.name in ACTIONS and ACTIONS[action.name] is not action:
        raise ValueError(f"two actions are named {action.name!r}")
    ACTIONS[action.name] = action
    return action


def load_actions() -> dict[str, type[Action]]:
    """The built-in actions and every plugin's (entry-point group `muster.actions`)."""
    import muster.soar.actions.builtin  # noqa: F401  (registers the built-in actions)

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        action = entry.load()
        if not (isinstance(action, type) and issubclass(action, Action)):
            raise TypeError(f"entry point {entry.name!r} is not an Action subclass")
        register(action)
    return ACTIONS
