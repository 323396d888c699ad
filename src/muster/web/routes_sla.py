"""The SLA dashboard: MTTA and MTTR by day over the last 30 days, breaches by severity (and
by tenant in a global admin's all-tenants view), the policy and the open incidents at risk or
breached — figures from `muster.sla.metrics.incident_metrics`, like `/api/v1/metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import Response

from muster.models import Incident
from muster.sla import service as sla_service
from muster.sla.clock import SlaState
from muster.sla.conditions import state_condition
from muster.sla.metrics import MetricsReport, incident_metrics
from muster.sla.metrics_params import Dimension, metrics_query
from muster.web.deps import PageCtx, WebCtx
from muster.web.pages import page
from muster.web.views_sla import breaches_chart, duration_chart, open_counts, policy_rows

router = APIRouter()
UNRESOLVED = ("OPEN", "UNDER_INVESTIGATION")


def _open_counts(ctx: WebCtx, fraction: float) -> dict[str, int]:
    dialect = ctx.session.get_bind().dialect.name
    counts = {}
    for state in (SlaState.AT_RISK, SlaState.BREACHED):
        counts[state.value] = int(
            ctx.session.scalar(
                select(func.count(Incident.id))
                .where(Incident.status.in_(UNRESOLVED))
                .where(state_condition(state, ctx.now, fraction, dialect))
            )
            or 0
        )
    return counts


@router.get("/sla")
def sla(request: Request, ctx: PageCtx) -> Response:
    """The dashboard of the acting tenant, or of every tenant for a global admin."""
    scope = "all" if ctx.tenant_id is None else "tenant"

    def report(group_by: str) -> MetricsReport:
        query = metrics_query(now=ctx.now, group_by=group_by, period="day", scope=scope)
        return incident_metrics(ctx.session, query, ctx.now)

    by_day = report("period")
    charts = {
        "mtta": duration_chart(by_day, "mtta"),
        "mttr": duration_chart(by_day, "mttr"),
        "breaches": breaches_chart(report("severity"), Dimension.SEVERITY),
    }
    if ctx.tenant_id is None:
        charts["tenants"] = breaches_chart(report("tenant"), Dimension.TENANT)
        policy, counts = None, None
    else:
        policy = sla_service.get_policy(ctx.session)
        counts = open_counts(_open_counts(ctx, policy.at_risk_fraction))
    return page(
        request,
        "sla.html",
        ctx.viewer,
        charts=charts,
        policy=policy_rows(policy) if policy else None,
        at_risk_fraction=policy.at_risk_fraction if policy else None,
        counts=counts,
        all_tenants=ctx.tenant_id is None,
        window=(by_day.query.start, by_day.query.end),
    )
