from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TimestampMixin


class Tenant(IdMixin, TimestampMixin, Base):
    """One customer environment. Not tenant-scoped itself: it is the scope."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    suspended: Mapped[str | None] = mapped_column(Text, default=None)  # the reason
    eval_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    demo: Mapped[bool] = mapped_column(default=False)
    dev: Mapped[bool] = mapped_column(default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    incident_seq: Mapped[int] = mapped_column(default=0)
