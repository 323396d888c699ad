"""SOAR over HTTP: start a playbook on an incident, answer its question, read and steer runs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from muster.api.deps import ReadCtx, WriteCtx
from muster.soar import service
from muster.soar.schemas import (
    AnswerIn,
    SoarProcessDetail,
    SoarProcessPage,
    SoarProcessRead,
    StartIn,
    StepLogRead,
)

incident_router = APIRouter(prefix="/incidents/{incident_id}/soar", tags=["soar"])
router = APIRouter(prefix="/soar/processes", tags=["soar"])


@incident_router.post(
    "/start", response_model=SoarProcessRead, status_code=202, summary="Run a playbook now"
)
def start(ctx: WriteCtx, incident_id: uuid.UUID, body: StartIn) -> SoarProcessRead:
    process = service.start_manually(
        ctx.session, incident_id, body.playbook, ctx.principal.actor, ctx.now
    )
    return SoarProcessRead.model_validate(process)


@incident_router.post(
    "/answer",
    response_model=SoarProcessRead,
    summary="Answer the pending question (409 once it has timed out)",
)
def answer(ctx: WriteCtx, incident_id: uuid.UUID, body: AnswerIn) -> SoarProcessRead:
    process = service.answer(ctx.session, incident_id, body.answer, ctx.principal.actor, ctx.now)
    return SoarProcessRead.model_validate(process)


@router.get("", response_model=SoarProcessPage, summary="Playbook runs, newest first")
def list_(
    ctx: ReadCtx,
    incident_id: Annotated[uuid.UUID | None, Query(alias="incidentId")] = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SoarProcessPage:
    found = service.list_processes(ctx.session, incident_id=incident_id, status=status, limit=limit)
    return SoarProcessPage(items=[SoarProcessRead.model_validate(p) for p in found])


@router.get("/{process_id}", response_model=SoarProcessDetail, summary="One run with its steps")
def get(ctx: ReadCtx, process_id: uuid.UUID) -> SoarProcessDetail:
    process = service.get_process(ctx.session, process_id)
    steps = [StepLogRead.model_validate(s) for s in service.step_log(ctx.session, process.id)]
    return SoarProcessDetail.model_validate(
        {**SoarProcessRead.model_validate(process).model_dump(), "steps": steps}
    )


@router.post("/{process_id}/cancel", response_model=SoarProcessRead, summary="Stop a run")
def cancel(ctx: WriteCtx, process_id: uuid.UUID) -> SoarProcessRead:
    process = service.cancel(ctx.session, process_id, ctx.principal.actor, ctx.now)
    return SoarProcessRead.model_validate(process)


@router.post("/{process_id}/retry", response_model=SoarProcessRead, summary="Re-run a failed run")
def retry(ctx: WriteCtx, process_id: uuid.UUID) -> SoarProcessRead:
    process = service.retry(ctx.session, process_id, ctx.principal.actor, ctx.now)
    return SoarProcessRead.model_validate(process)
