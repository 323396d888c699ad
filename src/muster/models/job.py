from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin


class Job(IdMixin, Base):
    """Work for later (playbook steps, notifications), written in the same transaction as its data.

    Not `TenantScoped`: workers claim jobs across tenants (`FOR UPDATE SKIP LOCKED`) and then
    rebuild the tenant context from `tenant_id`, which every job row carries.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "state", "run_at"),)

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    # enqueueing the same work twice (a retried transaction, a re-run step) makes one job
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    run_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    locked_by: Mapped[str | None] = mapped_column(String(128), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
