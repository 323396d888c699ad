from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped, TimestampMixin


class Incident(IdMixin, TenantScoped, TimestampMixin, Base):
    """A group of related alerts and the state of its handling (DESIGN.md §1)."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("uq_incidents_hash", "incident_hash", unique=True),
        Index("ix_incidents_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_incidents_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        Index("ix_incidents_tenant_severity_created", "tenant_id", "severity", "created_at", "id"),
        Index("ix_incidents_tenant_severity_id", "tenant_id", "severity", "id"),  # sort=severity
        Index("ix_incidents_tenant_assignee_created", "tenant_id", "assignee", "created_at", "id"),
        Index("ix_incidents_tenant_updated", "tenant_id", "updated_at", "id"),
        Index("ix_incidents_grouping", "tenant_id", "grouping_key", "first_alert_at"),
        # the SLA scheduler's queue: incidents with an SLA event still to raise, by when
        Index("ix_incidents_sla_next", "sla_next_at"),
    )

    number: Mapped[int] = mapped_column()
    incident_hash: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[int] = mapped_column(SmallInteger)
    assignee: Mapped[str | None] = mapped_column(String(320), default=None)
    assignee_name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(32), default="OPEN")
    resolution: Mapped[str | None] = mapped_column(String(32), default=None)
    # why, in ContraForce's and Sentinel's vocabulary (muster.incidents.verdicts)
    resolution_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    resolution_comment: Mapped[str | None] = mapped_column(Text, default=None)
    source: Mapped[str] = mapped_column(String(200))
    mitre_tactic: Mapped[str | None] = mapped_column(String(64), default=None)
    mitre_technique: Mapped[str | None] = mapped_column(String(16), default=None)
    grouping_allowed: Mapped[bool] = mapped_column(default=True)
    exclude_from_sla: Mapped[bool] = mapped_column(default=False)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    soar_process_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    soar_status: Mapped[str] = mapped_column(String(32), default="NOT_PROCESSED")
    soar_timeout: Mapped[datetime | None] = mapped_column(default=None)
    # Grouping bookkeeping: which rule opened it, under which key, and how full it is.
    grouping_key: Mapped[str | None] = mapped_column(String(64), default=None)
    grouping_rule: Mapped[str | None] = mapped_column(String(200), default=None)
    alert_count: Mapped[int] = mapped_column(default=0)
    first_alert_at: Mapped[datetime | None] = mapped_column(default=None)
    last_alert_at: Mapped[datetime | None] = mapped_column(default=None)
    # SLA (muster.sla): due times from the tenant's policy, which events were raised (bit
    # flags, muster.sla.clock), and when the next one falls due (None: nothing left to raise)
    response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_raised: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    sla_next_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Comment(IdMixin, TenantScoped, Base):
    """A note on an incident by a person, an API key or SOAR."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_incident", "incident_id", "created_at"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    author_name: Mapped[str] = mapped_column(String(200))
    author_type: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime | None] = mapped_column(default=None)  # None: never edited
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IncidentRelation(IdMixin, TenantScoped, Base):
    """A named link from an incident to another resource (Sentinel's incident relations)."""

    __tablename__ = "incident_relations"
    __table_args__ = (UniqueConstraint("incident_id", "name"),)

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    related_resource_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
