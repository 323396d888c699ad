"""Alert reads: pages without raw payloads, one alert with its raw payload."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from muster.errors import NotFound
from muster.models import Alert
from muster.pagination import SortKey, apply_keyset, page
from muster.query import Subject, parse
from muster.query.sql import to_sql

NEWEST_FIRST = SortKey("-createdAt", Alert.created_at, descending=True)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    incident_id: uuid.UUID | None = None
    source: str | None = None
    severity: int | None = None
    hostname: str | None = None
    username: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    filter: str | None = None  # a filter expression (docs/query-language.md)


def list_alerts(
    session: Session, flt: AlertFilter, limit: int, cursor: str | None
) -> tuple[list[Alert], str | None]:
    """One page of the tenant's alerts, newest first; `raw` is never loaded here."""
    stmt = select(Alert)
    for name in ("incident_id", "source", "severity", "hostname", "username"):
        value = getattr(flt, name)
        if value is not None:
            stmt = stmt.where(getattr(Alert, name) == value)
    if flt.created_after:
        stmt = stmt.where(Alert.created_at >= flt.created_after)
    if flt.created_before:
        stmt = stmt.where(Alert.created_at < flt.created_before)
    if flt.filter is not None:
        tree = parse(flt.filter)
        stmt = stmt.where(to_sql(tree, Subject.ALERT, session.get_bind().dialect.name))
    stmt = apply_keyset(stmt, NEWEST_FIRST, Alert.id, cursor, limit)
    return page(list(session.scalars(stmt)), NEWEST_FIRST, limit)


def get_alert(session: Session, alert_id: uuid.UUID) -> Alert:
    """One alert with its raw payload, or NotFound."""
    alert = session.scalars(
        select(Alert).where(Alert.id == alert_id).options(undefer(Alert.raw))
    ).first()
    if alert is None:
        raise NotFound("alert", alert_id)
    return alert
