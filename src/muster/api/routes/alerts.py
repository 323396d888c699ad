"""`/api/v1/alerts`: ingest and read alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response

from muster.alerts import service
from muster.alerts.ingest import ingest, parse_batch
from muster.alerts.schemas import AlertDetail, AlertMove, AlertPage, AlertRead, IngestResult
from muster.api.deps import ReadCtx, WriteCtx, json_body
from muster.incidents.service import move_alert

router = APIRouter(prefix="/alerts", tags=["alerts"])

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
def post_alerts(ctx: WriteCtx, body: Annotated[Any, Depends(json_body)]) -> Response:
    """Store alerts idempotently and group them; one transaction for the whole batch."""
    payloads = parse_batch(body, ctx.settings.max_batch_alerts)
    report = ingest(ctx.session, payloads, ctx.principal.actor, ctx.now)
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
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> AlertPage:
    flt = service.AlertFilter(
        incident_id, source, severity, hostname, username, created_after, created_before
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
