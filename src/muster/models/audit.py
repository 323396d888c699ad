"""Audit events: a tenant's (incident timelines and administration) and the global log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped

# The administration log (`GET /api/v1/audit`) is every event that is not about an incident;
# this partial index serves it without costing the (many) incident events anything.
ADMIN_EVENTS = "subject_type <> 'incident'"


class AuditEvent(IdMixin, TenantScoped, Base):
    """One change or automated decision: who, what, when, before/after and why.

    Events about an incident form its timeline (`subject_type == "incident"`); the others
    record the tenant's administration (members, keys, rules, playbooks, webhooks, SLA policy,
    the tenant itself).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_subject", "tenant_id", "subject_id", "created_at"),
        Index(
            "ix_audit_admin",
            "tenant_id",
            "created_at",
            "id",
            postgresql_where=text(ADMIN_EVENTS),
            sqlite_where=text(ADMIN_EVENTS),
        ),
    )

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(320))
    actor_type: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column()


class GlobalAuditEvent(IdMixin, Base):
    """An administrative event that belongs to no tenant: global API keys, tenants deleted
    (whose own log goes with them), console lockouts.

    Deliberately not tenant data and with no `tenant_id`: it must outlive the tenants it
    names. `subject_id` is null where there is no subject (a locked-out client address).
    """

    __tablename__ = "global_audit_events"

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(320))
    actor_type: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(index=True)
