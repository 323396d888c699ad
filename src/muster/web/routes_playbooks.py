"""Playbook pages: the list, and a YAML editor with server-side validation and run history.

Saving goes through the same service as `PUT /api/v1/playbooks/{id}` with a YAML body; a
definition with problems is shown back with every problem listed and nothing saved.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from muster.errors import Conflict, InvalidInput
from muster.models import Playbook, SoarProcess
from muster.models.enums import Role
from muster.playbooks import service
from muster.playbooks.yaml_io import dump_yaml, load_yaml
from muster.web.deps import ActionCtx, PageCtx, WebCtx
from muster.web.pages import base_of, page, see_other
from muster.web.views_access import chosen_tenant, may, require_role
from muster.web.views_playbooks import (
    NEW_PLAYBOOK_YAML,
    playbook_rows,
    run_row,
    validation_messages,
)

router = APIRouter()
RUNS_SHOWN = 50
RUNS_IN_LIST = 3


@router.get("/playbooks")
def playbooks(request: Request, ctx: PageCtx) -> Response:
    """The tenant's playbooks in evaluation order with their latest runs."""
    tenant_id = chosen_tenant(ctx.tenant_id, "playbooks")
    found, _ = service.list_playbooks(ctx.session, limit=500)
    ids = [p.id for p in found]
    runs = ctx.session.scalars(
        select(SoarProcess)
        .where(SoarProcess.playbook_id.in_(ids))
        .order_by(SoarProcess.created_at.desc(), SoarProcess.id.desc())
        .limit(RUNS_SHOWN * 10)
    )
    return page(
        request,
        "playbooks.html",
        ctx.viewer,
        rows=playbook_rows(found, runs, RUNS_IN_LIST),
        can_edit=may(ctx.viewer, tenant_id, Role.TENANT_ADMIN),
    )


def _editor(
    request: Request,
    ctx: WebCtx,
    playbook: Playbook | None,
    text: str,
    *,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    runs = []
    if playbook is not None:
        runs = [
            run_row(p)
            for p in ctx.session.scalars(
                select(SoarProcess)
                .where(SoarProcess.playbook_id == playbook.id)
                .order_by(SoarProcess.created_at.desc(), SoarProcess.id.desc())
                .limit(RUNS_SHOWN)
            )
        ]
    return page(
        request,
        "playbook.html",
        ctx.viewer,
        status=status,
        playbook=playbook,
        yaml_text=text,
        problems=problems or [],
        runs=runs,
        can_edit=may(ctx.viewer, ctx.tenant_id, Role.TENANT_ADMIN),
    )


@router.get("/playbooks/new")
def new_playbook(request: Request, ctx: PageCtx) -> Response:
    """An editor with a starting definition (saving needs tenant_admin)."""
    chosen_tenant(ctx.tenant_id, "playbooks")
    return _editor(request, ctx, None, NEW_PLAYBOOK_YAML)


@router.post("/playbooks/new")
def create_playbook(request: Request, ctx: ActionCtx) -> Response:
    """Create the playbook of the submitted YAML, or show its problems (nothing saved)."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "playbooks"), Role.TENANT_ADMIN)
    text = ctx.form.get("yaml")
    try:
        created = service.create_playbook(ctx.session, load_yaml(text), ctx.viewer.actor, ctx.now)
    except (InvalidInput, Conflict) as exc:
        ctx.session.rollback()
        status = 400 if isinstance(exc, InvalidInput) else 409
        problems = validation_messages(exc)
        return _editor(request, ctx, None, text, problems=problems, status=status)
    return see_other(f"{base_of(request)}/playbooks/{created.id}")


@router.get("/playbooks/{playbook_id}")
def playbook(request: Request, ctx: PageCtx, playbook_id: uuid.UUID) -> Response:
    """The playbook's current version as YAML, and its run history."""
    chosen_tenant(ctx.tenant_id, "playbooks")
    found = service.get_playbook(ctx.session, playbook_id)
    return _editor(request, ctx, found, dump_yaml(service.definition_of(found)))


@router.post("/playbooks/{playbook_id}")
def save_playbook(request: Request, ctx: ActionCtx, playbook_id: uuid.UUID) -> Response:
    """Save the submitted YAML as a new version (guarded by the version the editor loaded), or
    show its problems with nothing saved."""
    require_role(ctx.viewer, chosen_tenant(ctx.tenant_id, "playbooks"), Role.TENANT_ADMIN)
    found = service.get_playbook(ctx.session, playbook_id)
    text = ctx.form.get("yaml")
    version = ctx.form.get("version")
    if_match = int(version) if version.isascii() and version.isdigit() else None
    try:
        service.update_playbook(
            ctx.session, playbook_id, load_yaml(text), ctx.viewer.actor, ctx.now, if_match=if_match
        )
    except (InvalidInput, Conflict) as exc:
        ctx.session.rollback()
        found = service.get_playbook(ctx.session, playbook_id)
        status = 400 if isinstance(exc, InvalidInput) else 409
        problems = validation_messages(exc)
        return _editor(request, ctx, found, text, problems=problems, status=status)
    return see_other(f"{base_of(request)}/playbooks/{found.id}?saved=1")
