"""SOAR process API schemas: every field of the seed's SOAR Process, and the step log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from muster.schema_base import ApiModel, Name, ReadModel, ShortText


class SoarProcessRead(ReadModel):
    """One run of a playbook on an incident."""

    id: uuid.UUID
    incident_id: uuid.UUID
    playbook_id: uuid.UUID
    playbook_version: int
    tenant_id: uuid.UUID
    parent_process_id: uuid.UUID | None
    process_hash: str
    trigger: str
    started_by: str
    status: str
    memory: dict[str, Any]
    current_step_id: str | None
    current_soar_question_step: str | None
    current_soar_question: str | None
    current_soar_answer_memory: str | None
    current_soar_options: list[str] | None
    current_soar_asked: dict[str, Any] | None
    timeout_at: datetime | None
    loop_index: int
    loop_collection: str | None
    loop_collection_length: int
    steps_run: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class StepLogRead(ReadModel):
    """One executed step."""

    step_id: str
    kind: str
    action: str | None
    attempt: int
    outcome: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    next_step_id: str | None
    started_at: datetime
    finished_at: datetime


class SoarProcessDetail(SoarProcessRead):
    """A process with its step log."""

    steps: list[StepLogRead]


class SoarProcessPage(ReadModel):
    items: list[SoarProcessRead]


class AnswerIn(ApiModel):
    """The answer to the incident's pending question: one of its options, or free text."""

    answer: Annotated[ShortText, Field(min_length=1)]


class StartIn(ApiModel):
    """Start a playbook by name, or (without one) the first manual playbook that matches."""

    playbook: Name | None = None
