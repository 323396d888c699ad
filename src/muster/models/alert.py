from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped, TimestampMixin


class Alert(IdMixin, TenantScoped, TimestampMixin, Base):
    """One detection from a product. `created_at` is the event time the sender reported."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("uq_alerts_tenant_dedup", "tenant_id", "dedup_key", unique=True),
        Index("ix_alerts_tenant_created", "tenant_id", "created_at", "id"),
        # tenant_id second: the tenancy filter adds `tenant_id = ?` to every read by incident,
        # and SQLite (no statistics) then takes the index with the most equalities; with only
        # (incident_id, created_at) it scanned the tenant's whole ix_alerts_tenant_created range
        Index("ix_alerts_incident", "incident_id", "tenant_id", "created_at", "id"),
    )

    incident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    external_id: Mapped[str | None] = mapped_column(String(512), default=None)
    dedup_key: Mapped[str] = mapped_column(String(32))
    rule_name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[int] = mapped_column(SmallInteger, default=0)
    action: Mapped[str] = mapped_column(String(64), default="Detected")
    hostname: Mapped[str | None] = mapped_column(String(512), default=None)
    src_hostname: Mapped[str | None] = mapped_column(String(512), default=None)
    src_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    src_port: Mapped[int | None] = mapped_column(Integer, default=None)
    dest_hostname: Mapped[str | None] = mapped_column(String(512), default=None)
    dest_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    dest_port: Mapped[int | None] = mapped_column(Integer, default=None)
    username: Mapped[str | None] = mapped_column(String(512), default=None)
    initiated_by: Mapped[str | None] = mapped_column(Text, default=None)
    initiator_path: Mapped[str | None] = mapped_column(Text, default=None)
    initiator_cmd: Mapped[str | None] = mapped_column(Text, default=None)
    initiator_signature: Mapped[str | None] = mapped_column(Text, default=None)
    initiator_signer: Mapped[str | None] = mapped_column(Text, default=None)
    initiator_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    mitre_tactic: Mapped[str | None] = mapped_column(String(64), default=None)
    mitre_technique: Mapped[str | None] = mapped_column(String(16), default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    raw_event_dataset: Mapped[str | None] = mapped_column(String(200), default=None)
    raw_event_id: Mapped[str | None] = mapped_column(String(512), default=None)
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    occurrences: Mapped[int] = mapped_column(default=1)
    last_seen_at: Mapped[datetime] = mapped_column()
    grouping_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    raw: Mapped[Any] = deferred(mapped_column(JSON))
