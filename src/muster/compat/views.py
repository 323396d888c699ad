"""What the compatible APIs show of an incident, loaded once per page as plain data.

ContraForce and Sentinel show beside each incident what muster keeps on its alerts and
comments: the products that fed it, its MITRE tactics, the rules that fired, the last comment,
the assignee's user id. `incident_views` loads those for a whole page in a fixed number of
queries (never one per incident); the facades render `IncidentView`s in their own shapes.
Works in a tenant session and, for the cross-tenant routes, in a system session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from muster.compat.entities import EntityRecord, entities_of
from muster.compat.evidence import EvidenceTable, evidence_table
from muster.errors import InvalidInput, NotFound
from muster.incidents.listing import IncidentFilter, count_incidents, list_incidents
from muster.incidents.service import alerts_of, get_incident
from muster.models import Alert, Comment, Incident, Tenant, User
from muster.models.enums import SOAR_ASSIGNEE
from muster.tenants.users import members

EVIDENCE_ROWS = 1000  # alerts shown in an evidence table, oldest first


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident and what the compatible APIs show beside it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    number: int
    title: str  # muster's `description`, the one-line title
    description: str  # muster's `details`
    severity: int
    status: str
    resolution: str | None
    resolution_reason: str | None
    resolution_comment: str | None
    assignee: str | None  # a member's e-mail, "SOAR" or None
    assignee_name: str | None
    assignee_user_id: uuid.UUID | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    first_activity_at: datetime | None
    last_activity_at: datetime | None
    alerts_count: int
    version: int
    source: str
    products: list[str] = field(default_factory=list)
    tactics: list[str] = field(default_factory=list)  # ATT&CK display names
    techniques: list[str] = field(default_factory=list)
    rule_names: list[str] = field(default_factory=list)
    last_comment: str | None = None
    comments_count: int = 0


def parse_incident_id(value: str) -> uuid.UUID:
    """The incident id in a path, or NotFound (an id that is not a UUID names nothing)."""
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise NotFound("incident", value) from None


def incident_views(session: Session, incidents: Sequence[Incident]) -> list[IncidentView]:
    """Views of `incidents`, in order, with alert facts, comments, tenants and user ids."""
    if not incidents:
        return []
    ids = [i.id for i in incidents]
    facts = _alert_facts(session, ids)
    comments = _comment_facts(session, ids)
    tenant_ids = {i.tenant_id for i in incidents}
    tenants = {
        row.id: row.name
        for row in session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(tenant_ids)))
    }
    ids_of = user_ids(session, [i.assignee for i in incidents if i.assignee])
    views = []
    for i in incidents:
        products, tactics, techniques, rules = facts.get(i.id, ([], [], [], []))
        if i.mitre_tactic and i.mitre_tactic not in tactics:
            tactics = [i.mitre_tactic, *tactics]
        if i.mitre_technique and i.mitre_technique not in techniques:
            techniques = [i.mitre_technique, *techniques]
        last_comment, comments_count = comments.get(i.id, (None, 0))
        views.append(
            IncidentView(
                id=i.id,
                tenant_id=i.tenant_id,
                tenant_name=tenants.get(i.tenant_id, ""),
                number=i.number,
                title=i.description,
                description=i.details,
                severity=i.severity,
                status=i.status,
                resolution=i.resolution,
                resolution_reason=i.resolution_reason,
                resolution_comment=i.resolution_comment,
                assignee=i.assignee,
                assignee_name=i.assignee_name,
                assignee_user_id=ids_of.get(i.assignee) if i.assignee else None,
                tags=list(i.tags or []),
                created_at=i.created_at,
                updated_at=i.updated_at,
                first_activity_at=i.first_alert_at,
                last_activity_at=i.last_alert_at,
                alerts_count=i.alert_count,
                version=i.version,
                source=i.source,
                products=products,
                tactics=tactics,
                techniques=techniques,
                rule_names=rules,
                last_comment=last_comment,
                comments_count=comments_count,
            )
        )
    return views


def _alert_facts(
    session: Session, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[list[str], list[str], list[str], list[str]]]:
    """incident id -> (products, tactics, techniques, rule names), distinct, first seen first."""
    rows = session.execute(
        select(
            Alert.incident_id,
            Alert.source,
            Alert.mitre_tactic,
            Alert.mitre_technique,
            Alert.rule_name,
        )
        .where(Alert.incident_id.in_(ids))
        .group_by(
            Alert.incident_id,
            Alert.source,
            Alert.mitre_tactic,
            Alert.mitre_technique,
            Alert.rule_name,
        )
        .order_by(func.min(Alert.created_at))
    )
    out: dict[uuid.UUID, tuple[list[str], list[str], list[str], list[str]]] = {}
    for incident_id, source, tactic, technique, rule in rows:
        lists = out.setdefault(incident_id, ([], [], [], []))
        for target, value in zip(lists, (source, tactic, technique, rule), strict=True):
            if value and value not in target:
                target.append(value)
    return out


def _comment_facts(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, int]]:
    """incident id -> (the latest comment's text, how many comments)."""
    ranked = (
        select(
            Comment.incident_id,
            Comment.body,
            func.row_number()
            .over(
                partition_by=Comment.incident_id,
                order_by=(Comment.created_at.desc(), Comment.id.desc()),
            )
            .label("rank"),
            func.count().over(partition_by=Comment.incident_id).label("total"),
        )
        .where(Comment.incident_id.in_(ids))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.incident_id, ranked.c.body, ranked.c.total).where(ranked.c.rank == 1)
    )
    return {incident_id: (body, int(total)) for incident_id, body, total in rows}


def incident_view(session: Session, incident_id: uuid.UUID) -> IncidentView:
    """The view of one incident of the session's tenant, or NotFound."""
    return incident_views(session, [get_incident(session, incident_id)])[0]


def list_views(
    session: Session, flt: IncidentFilter, sort: str, limit: int, cursor: str | None
) -> tuple[list[IncidentView], str | None]:
    """One page of views under the native list's filter, sort and keyset cursor."""
    incidents, next_cursor = list_incidents(session, flt, sort, limit, cursor)
    return incident_views(session, incidents), next_cursor


def count_views(session: Session, flt: IncidentFilter) -> int:
    """How many incidents the filter selects (over every page)."""
    return count_incidents(session, flt)


def incident_alerts(session: Session, incident_id: uuid.UUID) -> list[Alert]:
    """The incident's alerts, oldest first, without raw payloads."""
    get_incident(session, incident_id)
    return alerts_of(session, incident_id)


def incident_entities(session: Session, incident_id: uuid.UUID) -> list[EntityRecord]:
    """The entities the incident's alerts name (muster.compat.entities)."""
    return entities_of(incident_id, incident_alerts(session, incident_id))


def incident_evidence(session: Session, incident_id: uuid.UUID) -> EvidenceTable:
    """The evidence table of the incident's first `EVIDENCE_ROWS` alerts' raw payloads."""
    get_incident(session, incident_id)
    raws = session.scalars(
        select(Alert.raw)
        .where(Alert.incident_id == incident_id)
        .order_by(Alert.created_at, Alert.id)
        .limit(EVIDENCE_ROWS)
    )
    return evidence_table(list(raws))


def user_ids(session: Session, emails: Iterable[str]) -> dict[str, uuid.UUID]:
    """e-mail -> user id of the users among `emails` (one query; SOAR and API keys have none)."""
    wanted = {email for email in emails if "@" in email}
    if not wanted:
        return {}
    rows = session.execute(select(User.email, User.id).where(User.email.in_(wanted)))
    return {row.email: row.id for row in rows}


def member_ref(session: Session, email: str | None) -> tuple[uuid.UUID | None, str | None]:
    """(user id, display name) of an assignee e-mail; (None, None) for nobody or SOAR."""
    if not email or email == SOAR_ASSIGNEE:
        return None, None
    row = session.execute(select(User.id, User.name).where(User.email == email)).first()
    return (row.id, row.name) if row else (None, None)


def assignee_for(
    session: Session,
    *,
    user_id: str | None = None,
    email: str | None = None,
    name: str | None = None,
    field: str = "userId",
) -> str | None:
    """The assignee a client names: a member's e-mail (by user id or e-mail), SOAR, or None
    when nothing is named; InvalidInput naming `field` when no member of the tenant matches."""
    given = [str(v).strip() for v in (user_id, email, name) if v is not None and str(v).strip()]
    if not given:
        return None
    if any(v.upper() == SOAR_ASSIGNEE for v in given):
        return SOAR_ASSIGNEE
    roster = members(session)
    if user_id is not None and str(user_id).strip():
        try:
            wanted = uuid.UUID(str(user_id).strip())
        except ValueError:
            raise InvalidInput.field(field, f"{user_id!r} is not a user id") from None
        found = session.scalar(select(User.email).where(User.id == wanted))
        if found is None or found not in roster:
            raise InvalidInput.field(field, f"user {user_id} is not a member of this workspace")
        return found
    if email is not None and str(email).strip():
        address = str(email).strip().lower()
        if address not in roster:
            raise InvalidInput.field(field, f"{email!r} is not a member of this workspace")
        return address
    raise InvalidInput.field(field, "name the assignee by user id or e-mail")
