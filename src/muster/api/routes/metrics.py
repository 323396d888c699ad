"""`/api/v1/metrics`: MTTA, MTTR, SLA attainment and counts per group, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy.orm import Session

from muster.api.deps import TenantHeader, principal, services
from muster.auth.principal import Principal
from muster.auth.service import resolve_tenant
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.tenancy import Context
from muster.models.enums import Role
from muster.sla.metrics import incident_metrics
from muster.sla.metrics_params import ExportFormat, Scope, export_format, metrics_query, parse_scope
from muster.sla.metrics_schemas import MetricsRead, metrics_csv, to_read

router = APIRouter(tags=["metrics"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True, slots=True)
class MetricsCtx:
    """The read session of a metrics request: the caller's tenant, or every tenant."""

    session: Session
    scope: Scope
    now: datetime


def _metrics_session(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    scope: Annotated[
        str | None,
        Query(
            description="`tenant` (default): the caller's tenant; `all`: every tenant "
            "(global admins only)"
        ),
    ] = None,
    x_muster_tenant: TenantHeader = None,
) -> Iterator[MetricsCtx]:
    """scope=all opens a system session for a global admin only (403 otherwise); scope=tenant
    a session of the caller's tenant, like every tenant route."""
    svc = services(request)
    now = svc.clock.now()
    wanted = parse_scope(scope)
    ctx: Context
    if wanted is Scope.ALL:
        who.require(Role.GLOBAL_ADMIN)
        ctx = SystemContext()
    else:
        who.require(Role.VIEWER)
        ctx = TenantContext(resolve_tenant(who, x_muster_tenant, now, writing=False))
    with unit_of_work(svc.db, ctx) as session:
        yield MetricsCtx(session, wanted, now)


MetricsSession = Annotated[MetricsCtx, Depends(_metrics_session, scope="function")]


@router.get(
    "/metrics/incidents",
    response_model=MetricsRead,
    response_model_exclude_unset=True,
    summary="MTTA, MTTR, SLA attainment and counts of incidents, grouped (JSON or CSV)",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def incidents(
    ctx: MetricsSession,
    from_: Annotated[
        str | None,
        Query(alias="from", description="ISO 8601; default: 30 days before `to`"),
    ] = None,
    to: Annotated[str | None, Query(description="ISO 8601, exclusive; default: now")] = None,
    group_by: Annotated[
        str | None,
        Query(
            alias="groupBy",
            description="comma list of tenant, severity, source, tactic, assignee, period",
        ),
    ] = None,
    period: Annotated[
        str | None, Query(description="day (default), week or month: buckets in UTC")
    ] = None,
    format_: Annotated[
        str | None, Query(alias="format", description="json or csv (or Accept: text/csv)")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    query = metrics_query(
        now=ctx.now, start=from_, end=to, group_by=group_by, period=period, scope=ctx.scope
    )
    wanted = export_format(format_, accept)
    report = incident_metrics(ctx.session, query, ctx.now)
    if wanted is ExportFormat.CSV:
        name = f"incident-metrics-{query.start:%Y%m%dT%H%M%SZ}-{query.end:%Y%m%dT%H%M%SZ}.csv"
        return Response(
            metrics_csv(report),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return to_read(report)
