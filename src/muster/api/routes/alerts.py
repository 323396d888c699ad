"""`/api/v1/alerts`: ingest and read alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from muster.alerts import service
from muster.alerts.batch import parse_batch, prepare, source_format
from muster.alerts.schemas import AlertDetail, AlertMove, AlertPage, AlertRead, IngestResult
from muster.api.deps import ReadCtx, TenantHeader, WriteCtx, json_body, principal, services
from muster.auth.principal import Principal
from muster.auth.service import resolve_tenant
from muster.incidents.service import move_alert
from muster.models.enums import Role
from muster.query import MAX_LENGTH

router = APIRouter(prefix="/alerts", tags=["alerts"])
VALIDATE_INLINE = 20  # alerts; more are validated in a worker thread
FILTER_HELP = f"filter expression (docs/query-language.md), at most {MAX_LENGTH} characters"
FORMAT_HELP = (
    "the products' record format (docs/sources.md): sentinel, sentinel-api, wazuh, suricata, "
    "elastic, ocsf or muster; without it each record's format is detected"
)

INGEST_EXAMPLE = {
    "ruleName": "Suspicious PowerShell download cradle",
    "source": "Microsoft Defender for Endpoint",
    "externalId": "da637f9c-2b1e",
    "severity": 3,
    "hostname": "ws-0142.corp.example",
    "username": "j.doe@corp.example",
    "mitreTactic": "Execution",
    "mitreTechnique": "T1059.001",
}


@router.post(
    "",
    response_model=IngestResult,
    summary="Ingest one alert or a batch of up to 10,000",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/AlertIn"},
                            {
                                "type": "object",
                                "required": ["alerts"],
                                "properties": {
                                    "alerts": {
                                        "type": "array",
                                        "maxItems": 10000,
                                        "items": {"$ref": "#/components/schemas/AlertIn"},
                                    }
                                },
                            },
                        ]
                    },
                    "example": INGEST_EXAMPLE,
                }
            },
        }
    },
)
async def post_alerts(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    body: Annotated[Any, Depends(json_body)],
    x_muster_tenant: TenantHeader = None,
    format_: Annotated[str | None, Query(alias="format", description=FORMAT_HELP)] = None,
) -> Response:
    """Store alerts idempotently and group them; the request's alerts commit together."""
    svc = services(request)
    who.require(Role.ANALYST)
    now = svc.clock.now()
    tenant_id = resolve_tenant(who, x_muster_tenant, now, writing=True)
    source = source_format(format_)
    payloads = parse_batch(body, svc.settings.max_batch_alerts)
    if len(payloads) <= VALIDATE_INLINE:
        batch = prepare(payloads, who.actor, now, source)
    else:  # a big batch is validated off the event loop
        batch = await run_in_threadpool(prepare, payloads, who.actor, now, source)
    report = await svc.combiner.submit(tenant_id, batch)
    result = {
        "items": [
            {
                "alertId": i.alert_id,
                "incidentId": i.incident_id,
                "incidentHash": i.incident_hash,
                "duplicate": i.duplicate,
                "groupingReason": i.grouping_reason,
            }
            for i in report.items
        ],
        "alerts": len(report.items),
        "duplicates": report.duplicates,
        "incidentsCreated": report.incidents_created,
    }
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("", response_model=AlertPage, summary="List alerts (newest first, no raw)")
def list_alerts(
    ctx: ReadCtx,
    incident_id: Annotated[uuid.UUID | None, Query(alias="incidentId")] = None,
    source: str | None = None,
    severity: Annotated[int | None, Query(ge=0, le=4)] = None,
    hostname: str | None = None,
    username: str | None = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
    filter_: Annotated[str | None, Query(alias="filter", description=FILTER_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> AlertPage:
    flt = service.AlertFilter(
        incident_id, source, severity, hostname, username, created_after, created_before, filter_
    )
    items, next_cursor = service.list_alerts(ctx.session, flt, limit, cursor)
    return AlertPage(items=[AlertRead.model_validate(a) for a in items], next_cursor=next_cursor)


@router.get("/{alert_id}", response_model=AlertDetail, summary="One alert with its raw payload")
def get_alert(ctx: ReadCtx, alert_id: uuid.UUID) -> AlertDetail:
    return AlertDetail.model_validate(service.get_alert(ctx.session, alert_id))


@router.post("/{alert_id}/move", response_model=AlertRead, summary="Move to another incident")
def move(ctx: WriteCtx, alert_id: uuid.UUID, body: AlertMove) -> AlertRead:
    alert = move_alert(ctx.session, alert_id, body.incident_id, ctx.principal.actor, ctx.now)
    return AlertRead.model_validate(alert)
