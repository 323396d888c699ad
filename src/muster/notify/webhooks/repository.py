"""Data access for webhooks outside the ORM's tenant session: what the fan-out reads and writes
inside the transaction that raised the events (which may be a tenant or a system session).

Every statement binds `tenant_id` explicitly (`muster.db.tenancy`: Core statements bypass the
session's scoping, so they scope themselves).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from muster.db.bulk import insert_rows
from muster.models import Alert, Incident, Tenant
from muster.models.webhook import WebhookDelivery, WebhookSubscription

SUBSCRIPTIONS = cast(Table, WebhookSubscription.__table__)
DELIVERIES = cast(Table, WebhookDelivery.__table__)
_INCIDENTS = cast(Table, Incident.__table__)
_ALERTS = cast(Table, Alert.__table__)
_TENANTS = cast(Table, Tenant.__table__)
ALL_EVENTS = "*"
INCIDENT_COLUMNS = (
    "id",
    "number",
    "incident_hash",
    "description",
    "details",
    "severity",
    "status",
    "resolution",
    "assignee",
    "assignee_name",
    "source",
    "mitre_tactic",
    "mitre_technique",
    "tags",
    "alert_count",
    "soar_status",
    "created_at",
    "updated_at",
    "responded_at",
    "resolved_at",
    "response_due_at",
    "resolution_due_at",
    "sla_raised",
    "exclude_from_sla",
)


@dataclass(frozen=True, slots=True)
class Subscriber:
    """An enabled subscription as the fan-out needs it."""

    id: uuid.UUID
    events: frozenset[str]
    style: str

    def wants(self, event_type: str) -> bool:
        """True when the subscription asked for `event_type` (or for everything)."""
        return event_type in self.events or ALL_EVENTS in self.events


@dataclass(frozen=True, slots=True)
class TenantSubscribers:
    """A tenant's name and its enabled subscriptions (empty for most tenants)."""

    tenant_name: str
    subscribers: tuple[Subscriber, ...]


def load_subscribers(session: Session, tenant_id: uuid.UUID) -> TenantSubscribers:
    """The tenant's enabled subscriptions and name, read in one round trip."""
    stmt = (
        select(
            _TENANTS.c.name,
            SUBSCRIPTIONS.c.id,
            SUBSCRIPTIONS.c.events,
            SUBSCRIPTIONS.c.signature_style,
        )
        .select_from(
            _TENANTS.outerjoin(
                SUBSCRIPTIONS,
                (SUBSCRIPTIONS.c.tenant_id == _TENANTS.c.id) & SUBSCRIPTIONS.c.enabled.is_(True),
            )
        )
        .where(_TENANTS.c.id == tenant_id)
        .order_by(SUBSCRIPTIONS.c.created_at, SUBSCRIPTIONS.c.id)
    )
    rows = session.connection().execute(stmt).all()
    name = str(rows[0].name) if rows else ""
    subscribers = tuple(
        Subscriber(row.id, frozenset(row.events or ()), row.signature_style)
        for row in rows
        if row.id is not None
    )
    return TenantSubscribers(name, subscribers)


def incident_facts(
    session: Session, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Mapping[str, Any]]:
    """The incidents' payload columns by id, in one query. An ORM statement, so the session's
    pending changes (a PATCH being committed) are flushed first and read back."""
    if not ids:
        return {}
    columns = [getattr(Incident, name) for name in INCIDENT_COLUMNS]
    stmt = select(*columns).where(Incident.tenant_id == tenant_id, Incident.id.in_(list(ids)))
    return {row.id: dict(row._mapping) for row in session.execute(stmt)}


def recent_alerts(
    session: Session, tenant_id: uuid.UUID, incident_ids: Collection[uuid.UUID], per_incident: int
) -> dict[uuid.UUID, list[Mapping[str, Any]]]:
    """Up to `per_incident` most recent alerts of each incident (title, severity, product,
    entities), in one query."""
    if not incident_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=_ALERTS.c.incident_id,
            order_by=(_ALERTS.c.created_at.desc(), _ALERTS.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            _ALERTS.c.incident_id,
            _ALERTS.c.rule_name,
            _ALERTS.c.severity,
            _ALERTS.c.source,
            _ALERTS.c.entities,
            rank,
        )
        .where(_ALERTS.c.tenant_id == tenant_id, _ALERTS.c.incident_id.in_(list(incident_ids)))
        .subquery()
    )
    stmt = select(ranked).where(ranked.c.rank <= per_incident).order_by(ranked.c.rank)
    found: dict[uuid.UUID, list[Mapping[str, Any]]] = defaultdict(list)
    for row in session.connection().execute(stmt):
        found[row.incident_id].append(dict(row._mapping))
    return found


def insert_deliveries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert delivery rows (each carrying its tenant_id) in one statement."""
    insert_rows(session.connection(), DELIVERIES, rows)
