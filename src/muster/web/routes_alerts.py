"""The alert search page: filters, results linking to incidents, keyset paging."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from muster.alerts.service import list_alerts
from muster.errors import InvalidInput
from muster.web.deps import PageCtx
from muster.web.pages import page
from muster.web.views_alerts import PAGE_SIZE, AlertRow, alert_row, parse_search, to_alert_filter
from muster.web.views_queue import SEVERITY_NAMES

router = APIRouter()


@router.get("/alerts")
def alerts(request: Request, ctx: PageCtx) -> Response:
    """Search the acting tenant's alerts (every tenant's in the all-tenants view), newest first;
    a bad filter is shown on the page with status 400."""
    search = parse_search(request.query_params.multi_items())
    rows: list[AlertRow] = []
    cursor = None
    problem = None
    try:
        found, cursor = list_alerts(ctx.session, to_alert_filter(search), PAGE_SIZE, search.cursor)
        rows = [alert_row(a) for a in found]
    except InvalidInput as exc:
        problem = exc.detail
    return page(
        request,
        "alerts.html",
        ctx.viewer,
        status=400 if problem else 200,
        search=search,
        rows=rows,
        problem=problem,
        severities=SEVERITY_NAMES,
        next_query=search.query(cursor=cursor) if cursor else None,
    )
