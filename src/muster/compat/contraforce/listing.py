"""Incident lists of the ContraForce facade: the beta `/incidents` (one tenant, paged by
`pageToken`), the beta `/incidents/all` and the v2 `across-workspaces` list (every tenant the
caller may see, merged newest first). Sources are derived per incident
(`mapping.source_of`), so a `sources` filter is applied to each page as it is read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.compat import mapping, views
from muster.compat.contraforce import objects
from muster.compat.contraforce.decisions import assignee_expression, source_names, source_numbers
from muster.compat.contraforce.paging import PageToken, decode, encode
from muster.compat.contraforce.schemas import (
    AcrossWorkspacesRequest,
    BetaAllIncidentsRequest,
    BetaIncidentsRequest,
)
from muster.compat.contraforce.windows import ALL_WINDOW, LIST_WINDOW, preset_window, window
from muster.compat.entities import EntityRecord, entities_of
from muster.compat.views import IncidentView
from muster.incidents.listing import IncidentFilter
from muster.models import Alert, User

NEWEST_FIRST = "-createdAt"  # Sentinel's order: creation time, newest first
MAX_SCANNED_PAGES = 20  # pages read to fill one page when a sources filter drops incidents


@dataclass(frozen=True, slots=True)
class Page:
    """Views of one page, the cursor after it, and the window it was read in."""

    views: list[IncidentView]
    cursor: str | None
    start: datetime
    end: datetime


def _statuses(name: str | None, field: str = "status") -> tuple[str, ...]:
    return (mapping.status_from_name(name, field),) if name else ()


def _severities(name: str | None, field: str = "severity") -> tuple[int, ...]:
    return (mapping.severity_from_name(name, field),) if name else ()


def read_page(
    session: Session,
    flt: IncidentFilter,
    take: int,
    cursor: str | None,
    keep: Callable[[IncidentView], bool] | None = None,
) -> tuple[list[IncidentView], str | None]:
    """Up to `take` views newest first from `cursor`, keeping those `keep` accepts."""
    if keep is None:
        return views.list_views(session, flt, NEWEST_FIRST, take, cursor)
    found: list[IncidentView] = []
    for _ in range(MAX_SCANNED_PAGES):
        page, cursor = views.list_views(session, flt, NEWEST_FIRST, take - len(found), cursor)
        found.extend(v for v in page if keep(v))
        if cursor is None or len(found) >= take:
            break
    return found, cursor


def beta_list(session: Session, body: BetaIncidentsRequest, now: datetime) -> dict[str, object]:
    """`{nextPageLink, incidents}` of the session's tenant; the token keeps the first window."""
    cursor: str | None = None
    start, end = window(body.start_date, body.end_date, now, LIST_WINDOW)
    if body.page_token:
        token = decode(body.page_token, "pageToken")
        cursor = token.cursor
        if body.start_date is None and body.end_date is None:
            start, end = token.start, token.end
    flt = IncidentFilter(
        status=_statuses(body.status),
        severity=_severities(body.severity),
        created_after=start,
        created_before=end,
        q=body.query.strip() if body.query and body.query.strip() else None,
    )
    found, next_cursor = read_page(session, flt, body.take, cursor)
    link = encode(PageToken(next_cursor, start, end)) if next_cursor else None
    return {"nextPageLink": link, "incidents": [objects.beta_incident(v) for v in found]}


def beta_all(
    session: Session, body: BetaAllIncidentsRequest, tenant_ids: Sequence[uuid.UUID], now: datetime
) -> dict[str, object]:
    """`{incidents, totalCount}` over `tenant_ids` (a system session), merged newest first.
    totalCount counts every match of the window, status, severity and query."""
    start, end = window(body.start_date, body.end_date, now, ALL_WINDOW)
    wanted = source_numbers(body.sources)
    flt = IncidentFilter(
        status=_statuses(body.status),
        severity=_severities(body.severity),
        created_after=start,
        created_before=end,
        q=body.query.strip() if body.query and body.query.strip() else None,
        tenant_ids=tuple(tenant_ids),
    )
    keep = (lambda v: objects.source_name(v) in wanted) if wanted else None
    found, _ = read_page(session, flt, body.take, None, keep)
    return {
        "incidents": [objects.beta_incident_across(v) for v in found],
        "totalCount": views.count_views(session, flt),
    }


def _assignee_emails(session: Session, ids: Sequence[str], emails: Sequence[str]) -> list[str]:
    wanted = [e.strip().lower() for e in emails if e.strip()]
    parsed: dict[str, uuid.UUID | None] = {}
    for raw in ids:
        try:
            parsed[raw] = uuid.UUID(raw.strip())
        except ValueError:
            parsed[raw] = None
    known = [u for u in parsed.values() if u is not None]
    rows = session.execute(select(User.id, User.email).where(User.id.in_(known)))
    found = {user_id: email for user_id, email in rows}
    # an id that names no user keeps a value no incident has, so the filter selects nothing
    wanted.extend(
        found.get(u, f"user-id:{raw}") if u else f"user-id:{raw}" for raw, u in parsed.items()
    )
    return wanted


def entities_by_incident(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[EntityRecord]]:
    """Each incident's entities, from one query over the page's alerts."""
    alerts: dict[uuid.UUID, list[Alert]] = {}
    if ids:
        query = (
            select(Alert)
            .where(Alert.incident_id.in_(ids))
            .order_by(Alert.incident_id, Alert.created_at, Alert.id)  # ix_alerts_incident
        )
        for alert in session.scalars(query):
            if alert.incident_id is not None:
                alerts.setdefault(alert.incident_id, []).append(alert)
    return {i: entities_of(i, alerts.get(i, [])) for i in ids}


def across_filter(
    session: Session, body: AcrossWorkspacesRequest, tenant_ids: Sequence[uuid.UUID], now: datetime
) -> IncidentFilter:
    """The IncidentFilter of a ListIncidentsAcrossWorkspacesRequest (window not yet applied)."""
    selection = body.time_filter_selection
    start, end = preset_window(
        selection.type if selection else "TwentyFourHours",
        selection.custom_start_utc if selection else None,
        selection.custom_end_utc if selection else None,
        now,
    )
    emails = _assignee_emails(session, body.assignee_ids, body.assignee_emails)
    return IncidentFilter(
        status=tuple(mapping.status_from_name(s, "statuses") for s in body.statuses),
        severity=tuple(mapping.severity_from_name(s, "severities") for s in body.severities),
        created_after=start,
        created_before=end,
        q=body.query.strip() if body.query and body.query.strip() else None,
        filter=assignee_expression(emails, body.include_unassigned),
        tenant_ids=tuple(tenant_ids),
    )


def _continuation(body: AcrossWorkspacesRequest) -> str | None:
    if body.is_first_call:
        return None
    for entry in body.workspace_page_tokens:
        for token in entry.source_tokens.values():
            if token:
                return token
    return None


def across(
    session: Session, body: AcrossWorkspacesRequest, tenant_ids: Sequence[uuid.UUID], now: datetime
) -> tuple[dict[str, object], str | None]:
    """`{incidents, workspacePageTokens, hasMore}` and the continuation token: one merged,
    newest-first list; its token comes back in `workspacePageTokens` (any entry, any source)."""
    flt = across_filter(session, body, tenant_ids, now)
    cursor = None
    given = _continuation(body)
    if given:
        token = decode(given, "workspacePageTokens")
        cursor = token.cursor
        flt = replace(flt, created_after=token.start, created_before=token.end)
    wanted = source_names(body.sources)
    keep = (lambda v: objects.source_name(v) in wanted) if wanted else None
    found, next_cursor = read_page(session, flt, body.take, cursor, keep)
    assert flt.created_after is not None and flt.created_before is not None
    token_text = (
        encode(PageToken(next_cursor, flt.created_after, flt.created_before))
        if next_cursor
        else None
    )
    entities = entities_by_incident(session, [v.id for v in found])
    data: dict[str, object] = {
        "incidents": [
            {
                **objects.v2_item(v, entities[v.id]),
                "workspaceId": str(v.tenant_id),
                "workspaceName": v.tenant_name,
            }
            for v in found
        ],
        "workspacePageTokens": (
            [{"workspaceId": None, "sourceTokens": {"All": token_text}}] if token_text else []
        ),
        "hasMore": token_text is not None,
    }
    return data, token_text
