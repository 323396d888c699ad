"""`/api/v1/playbooks`: the tenant's playbooks (JSON or YAML, versioned) and `/api/v1/actions`.

Viewers read; only a tenant_admin writes, because a playbook changes what automation does to
every matching incident.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from muster.api.deps import AdminCtx, ReadCtx, if_match_version, json_body
from muster.errors import InvalidInput
from muster.models import Playbook
from muster.playbooks import service
from muster.playbooks.definition import PlaybookDefinition, Trigger
from muster.playbooks.schemas import (
    ActionRead,
    PlaybookListItem,
    PlaybookPage,
    PlaybookRead,
    PlaybookVersionListItem,
    PlaybookVersionRead,
)
from muster.playbooks.yaml_io import dump_yaml, load_yaml, parse_definition
from muster.soar.actions.base import load_actions

router = APIRouter(tags=["playbooks"])

# a YAML body is the document itself, as in JSON (not a JSON string holding YAML)
DOCUMENT = {"$ref": "#/components/schemas/PlaybookDocument"}
YAML_TYPES = frozenset({"application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml"})
YAML_EXAMPLE = """name: Contain ransomware
trigger: incident
weight: 50
criteria: severity >= 4 and mitreTactic = "Impact"
steps:
- id: confirm
  kind: question
  question: Isolate the host?
  options: ['yes', 'no']
  answerMemory: isolate
  timeout: 15m
"""
DEFINITION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PlaybookDocument"}},
            "application/yaml": {"schema": DOCUMENT, "example": YAML_EXAMPLE},
        },
    }
}
WRITE_NOTE = "Needs the tenant_admin role: a playbook changes what automation does to incidents."
LIST_COLUMNS = PlaybookListItem.model_fields.keys() - {"step_count"}
IfMatch = Annotated[str | None, Header(description='the ETag read before, e.g. "3"')]


async def definition_body(request: Request) -> PlaybookDefinition:
    """The body as a definition: YAML for `application/yaml`/`text/yaml`, JSON otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput.field(
                "body", "is not UTF-8 text", code="request.malformed_yaml"
            ) from None
        return await run_in_threadpool(load_yaml, text)
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise InvalidInput.field(
            "Content-Type",
            "must be application/json, application/yaml or text/yaml",
            code="request.unsupported_media_type",
        )
    return await run_in_threadpool(parse_definition, await json_body(request))


Definition = Annotated[PlaybookDefinition, Depends(definition_body)]


def _read(playbook: Playbook, response: Response) -> PlaybookRead:
    response.headers["ETag"] = f'"{playbook.version}"'
    return PlaybookRead.model_validate(
        {
            **playbook.definition,
            "id": playbook.id,
            "tenantId": playbook.tenant_id,
            "version": playbook.version,
            "createdAt": playbook.created_at,
            "updatedAt": playbook.updated_at,
        }
    )


@router.post(
    "/playbooks",
    response_model=PlaybookRead,
    status_code=201,
    summary="Create a playbook (JSON or YAML)",
    description=WRITE_NOTE,
    openapi_extra=DEFINITION_BODY,
    responses={409: {"description": "the name is taken (code playbook.duplicate_name)"}},
)
def create(ctx: AdminCtx, definition: Definition, response: Response) -> PlaybookRead:
    playbook = service.create_playbook(ctx.session, definition, ctx.principal.actor, ctx.now)
    response.headers["Location"] = f"/api/v1/playbooks/{playbook.id}"
    return _read(playbook, response)


@router.get("/playbooks", response_model=PlaybookPage, summary="Playbooks in evaluation order")
def list_(
    ctx: ReadCtx,
    trigger: Trigger | None = None,
    enabled: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> PlaybookPage:
    rows, next_cursor = service.list_playbooks(
        ctx.session, trigger=trigger, enabled=enabled, limit=limit, cursor=cursor
    )
    items = [
        PlaybookListItem.model_validate(
            {
                **{c: getattr(row, c) for c in LIST_COLUMNS},
                "step_count": len(row.definition["steps"]),
            }
        )
        for row in rows
    ]
    return PlaybookPage(items=items, next_cursor=next_cursor)


@router.get("/playbooks/{playbook_id}", response_model=PlaybookRead, summary="One playbook")
def get(ctx: ReadCtx, playbook_id: uuid.UUID, response: Response) -> PlaybookRead:
    return _read(service.get_playbook(ctx.session, playbook_id), response)


@router.put(
    "/playbooks/{playbook_id}",
    response_model=PlaybookRead,
    summary="Replace a playbook's definition: a new version (JSON or YAML; If-Match guards it)",
    description=WRITE_NOTE,
    openapi_extra=DEFINITION_BODY,
    responses={412: {"description": "If-Match names an older version"}},
)
def replace(
    ctx: AdminCtx,
    playbook_id: uuid.UUID,
    definition: Definition,
    response: Response,
    if_match: IfMatch = None,
) -> PlaybookRead:
    playbook = service.update_playbook(
        ctx.session,
        playbook_id,
        definition,
        ctx.principal.actor,
        ctx.now,
        if_match=if_match_version(if_match),
    )
    return _read(playbook, response)


@router.delete(
    "/playbooks/{playbook_id}",
    status_code=204,
    summary="Delete a playbook and its versions",
    description=WRITE_NOTE + " Refused (409) while SOAR processes run it or playbooks call it.",
)
def delete(ctx: AdminCtx, playbook_id: uuid.UUID) -> Response:
    service.delete_playbook(ctx.session, playbook_id, ctx.principal.actor, ctx.now)
    return Response(status_code=204)


@router.get(
    "/playbooks/{playbook_id}/export",
    summary="The playbook as a YAML file (the current version, or ?version=n)",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {"schema": DOCUMENT}}}},
)
def export(
    ctx: ReadCtx, playbook_id: uuid.UUID, version: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    row: Any = service.get_playbook(ctx.session, playbook_id)
    if version is not None:
        row = service.get_version(ctx.session, playbook_id, version)
    definition = service.definition_of(row)
    filename = f"{_safe_file_name(definition.name)}.v{row.version}.yaml"
    return Response(
        dump_yaml(definition),
        media_type="application/yaml",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "ETag": f'"{row.version}"',
        },
    )


def _safe_file_name(name: str) -> str:
    """Letters, digits, `.`, `_` and `-` only; never empty, never hidden."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:100] or "playbook"


@router.get(
    "/playbooks/{playbook_id}/versions",
    response_model=list[PlaybookVersionListItem],
    summary="Saved versions, newest first",
)
def versions(ctx: ReadCtx, playbook_id: uuid.UUID) -> list[PlaybookVersionListItem]:
    rows = service.list_versions(ctx.session, playbook_id)
    return [PlaybookVersionListItem.model_validate(v) for v in rows]


@router.get(
    "/playbooks/{playbook_id}/versions/{version}",
    response_model=PlaybookVersionRead,
    summary="One saved version with its definition",
)
def version_(ctx: ReadCtx, playbook_id: uuid.UUID, version: int) -> PlaybookVersionRead:
    return PlaybookVersionRead.model_validate(
        service.get_version(ctx.session, playbook_id, version)
    )


@router.get("/actions", response_model=list[ActionRead], summary="Actions playbook steps can run")
def actions(ctx: ReadCtx) -> list[ActionRead]:
    return [
        ActionRead(
            name=name,
            summary=action.summary,
            in_transaction=action.in_transaction,
            timeout_seconds=action.timeout,
            input_schema=action.Input.model_json_schema(by_alias=True),
            output_schema=action.Output.model_json_schema(by_alias=True),
        )
        for name, action in sorted(load_actions().items())
    ]
