"""Playbook API schemas. What a client sends is a `PlaybookDefinition` (JSON or YAML); what it
reads back uses the same names and shapes (`PlaybookDocument`), with durations as `15m`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, PlainSerializer

from muster.playbooks.definition import (
    ActionStep,
    ConditionStep,
    EndStep,
    HandBack,
    LoopStep,
    PlaybookDefinition,
    PlaybookStep,
    QuestionStep,
    Trigger,
    format_duration,
)
from muster.schema_base import ReadModel

Duration = Annotated[timedelta, PlainSerializer(format_duration, return_type=str, when_used="json")]


class QuestionStepDocument(QuestionStep):
    """A question step whose timeout reads back as it is written (`15m`)."""

    timeout: Duration = Field(default=timedelta(hours=1), examples=["15m"])


StepDocument = Annotated[
    ActionStep | ConditionStep | QuestionStepDocument | LoopStep | PlaybookStep | EndStep,
    Field(discriminator="kind"),
]


class PlaybookDocument(PlaybookDefinition):
    """A playbook definition: what POST and PUT take and a saved version holds."""

    steps: list[StepDocument] = Field(min_length=1, max_length=500)  # type: ignore[assignment]


class PlaybookRead(ReadModel):
    """A playbook: its current version's definition and its bookkeeping."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int = Field(description="bumped by every save; the ETag")
    name: str
    description: str
    trigger: Trigger
    enabled: bool
    weight: int
    criteria: str | None
    start: str | None
    hand_back: HandBack
    steps: list[StepDocument]
    created_at: datetime
    updated_at: datetime


class PlaybookListItem(ReadModel):
    """A playbook in a list: its settings without the step graph."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    name: str
    description: str
    trigger: Trigger
    enabled: bool
    weight: int
    criteria: str | None
    step_count: int
    created_at: datetime
    updated_at: datetime


class PlaybookPage(ReadModel):
    """Playbooks in evaluation order (weight descending, then name)."""

    items: list[PlaybookListItem]
    next_cursor: str | None


class PlaybookVersionListItem(ReadModel):
    """One saved version, without its definition."""

    version: int
    created_by: str
    created_at: datetime


class PlaybookVersionRead(PlaybookVersionListItem):
    """One saved version with the definition it holds (unchanged by later saves)."""

    playbook_id: uuid.UUID
    definition: PlaybookDocument


class ActionRead(ReadModel):
    """An action steps can run, with the JSON schemas of its parameters and its result."""

    name: str
    summary: str
    in_transaction: bool = Field(description="runs inside the step's transaction (muster data)")
    timeout_seconds: float
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
