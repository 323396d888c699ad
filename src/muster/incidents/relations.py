"""Named links from an incident to other resources (Sentinel's incident relations).

A relation is a name the client chooses and the id of the related resource (an ARM id or a
URL, kept verbatim). Every change is on the incident's timeline.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.errors import NotFound
from muster.incidents.lifecycle import Actor
from muster.incidents.service import get_incident
from muster.incidents.timeline import record
from muster.models import IncidentRelation


def list_relations(session: Session, incident_id: uuid.UUID) -> list[IncidentRelation]:
    """The incident's relations, oldest first."""
    get_incident(session, incident_id)
    return list(
        session.scalars(
            select(IncidentRelation)
            .where(IncidentRelation.incident_id == incident_id)
            .order_by(IncidentRelation.created_at, IncidentRelation.name)
        )
    )


def get_relation(session: Session, incident_id: uuid.UUID, name: str) -> IncidentRelation:
    """One relation by name, or NotFound."""
    get_incident(session, incident_id)
    found = session.scalars(
        select(IncidentRelation).where(
            IncidentRelation.incident_id == incident_id, IncidentRelation.name == name
        )
    ).first()
    if found is None:
        raise NotFound("relation", name)
    return found


def put_relation(
    session: Session,
    incident_id: uuid.UUID,
    name: str,
    related_resource_id: str,
    actor: Actor,
    now: datetime,
) -> tuple[IncidentRelation, bool]:
    """Create or repoint the named relation; True when it was created."""
    incident = get_incident(session, incident_id)
    try:
        relation = get_relation(session, incident_id, name)
    except NotFound:
        relation = IncidentRelation(
            id=uuid.uuid4(),
            tenant_id=incident.tenant_id,
            incident_id=incident_id,
            name=name,
            related_resource_id=related_resource_id,
            created_at=now,
        )
        session.add(relation)
        session.flush()
        record(
            session,
            incident_id,
            "relation.added",
            actor,
            now,
            changes={"name": name, "relatedResourceId": related_resource_id},
        )
        return relation, True
    if relation.related_resource_id != related_resource_id:
        before = relation.related_resource_id
        relation.related_resource_id = related_resource_id
        session.flush()
        record(
            session,
            incident_id,
            "relation.changed",
            actor,
            now,
            changes={"name": name, "relatedResourceId": [before, related_resource_id]},
        )
    return relation, False


def delete_relation(
    session: Session, incident_id: uuid.UUID, name: str, actor: Actor, now: datetime
) -> None:
    """Delete the named relation, or NotFound."""
    relation = get_relation(session, incident_id, name)
    record(
        session,
        incident_id,
        "relation.deleted",
        actor,
        now,
        changes={"name": name, "relatedResourceId": relation.related_resource_id},
    )
    session.delete(relation)
    session.flush()
