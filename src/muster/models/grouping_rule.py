from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped, TimestampMixin


class GroupingRule(IdMixin, TenantScoped, TimestampMixin, Base):
    """One ordered grouping rule of a tenant (see `muster.grouping.decide`)."""

    __tablename__ = "grouping_rules"
    __table_args__ = (Index("ix_grouping_rules_tenant_position", "tenant_id", "position"),)

    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column()
    enabled: Mapped[bool] = mapped_column(default=True)
    key_fields: Mapped[list[str]] = mapped_column(JSON)
    window_seconds: Mapped[int] = mapped_column()
    max_alerts: Mapped[int] = mapped_column()
    filter: Mapped[str | None] = mapped_column(Text, default=None)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
