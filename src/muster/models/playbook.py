from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped, TimestampMixin


class Playbook(IdMixin, TenantScoped, TimestampMixin, Base):
    """A tenant's playbook: its current definition and version (`muster.playbooks`).

    Every save writes a `PlaybookVersion`; a SOAR process runs the version it started with.
    """

    __tablename__ = "playbooks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_playbooks_tenant_trigger_weight", "tenant_id", "trigger", "weight"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(16))  # incident | email | manual
    enabled: Mapped[bool] = mapped_column(default=True)
    criteria: Mapped[str | None] = mapped_column(Text, default=None)
    weight: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    # the step graph and settings of the current version (`PlaybookDefinition` as JSON)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class PlaybookVersion(IdMixin, TenantScoped, Base):
    """One saved version of a playbook, immutable."""

    __tablename__ = "playbook_versions"
    __table_args__ = (UniqueConstraint("playbook_id", "version"),)

    playbook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("playbooks.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column()
