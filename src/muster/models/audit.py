from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped


class AuditEvent(IdMixin, TenantScoped, Base):
    """One change or automated decision: who, what, when, before/after and why.

    Events about an incident form its timeline (`subject_type == "incident"`).
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_subject", "tenant_id", "subject_id", "created_at"),)

    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(320))
    actor_type: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column()
