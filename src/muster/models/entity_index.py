"""What entity-aware grouping learns at ingest: which incidents hold an entity, and how common
each entity is in the tenant (`muster.grouping.entity_repository`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, TenantScoped


class EntityIncident(TenantScoped, Base):
    """An entity (`muster.grouping.entity_keys` digest) named by an alert of an incident.

    `first_alert_at` is the incident's (it never changes), so the look-up by entity is
    bounded by the grouping window on the index; `subject` is the subject of the alert that
    first named the entity in this incident (`entity_keys.subject_of`).
    """

    __tablename__ = "entity_incidents"
    __table_args__ = (
        Index("ix_entity_incidents_lookup", "tenant_id", "entity_key", "first_alert_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    incident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    entity_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_alert_at: Mapped[datetime] = mapped_column()
    subject: Mapped[str | None] = mapped_column(String(32), default=None)


class EntityCommonness(TenantScoped, Base):
    """How many distinct subjects an entity was seen with (`muster.grouping.commonness`).

    Only entities seen with more than one subject have a row.
    """

    __tablename__ = "entity_commonness"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    entity_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subjects: Mapped[list[str]] = mapped_column(JSON)
    prior: Mapped[int] = mapped_column(default=0)
    since: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
