"""The incident page's SOAR panel: answer the pending question, cancel or retry the run."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from muster.errors import Conflict
from muster.incidents.service import get_incident
from muster.soar import service as soar
from muster.web.deps import IncidentActionCtx, WebCtx
from muster.web.pages import base_of, see_other

router = APIRouter(prefix="/incidents/{incident_id}/soar")


def _current(ctx: WebCtx, incident_id: uuid.UUID) -> uuid.UUID:
    """The incident's current run (the one the panel showed)."""
    process = soar.current_process(ctx.session, get_incident(ctx.session, incident_id))
    if process is None:
        raise Conflict("no playbook has run on this incident", code="soar.no_process")
    return process.id


def _back(request: Request, incident_id: uuid.UUID) -> Response:
    return see_other(f"{base_of(request)}/incidents/{incident_id}#soar")


@router.post("/answer")
def answer(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Answer the pending question with the option whose button was pressed."""
    soar.answer(ctx.session, incident_id, ctx.form.get("answer"), ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)


@router.post("/cancel")
def cancel(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Stop the current run; the incident is handed back."""
    soar.cancel(ctx.session, _current(ctx, incident_id), ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)


@router.post("/retry")
def retry(request: Request, ctx: IncidentActionCtx, incident_id: uuid.UUID) -> Response:
    """Run the failed run again from the step that failed."""
    soar.retry(ctx.session, _current(ctx, incident_id), ctx.viewer.actor, ctx.now)
    return _back(request, incident_id)
