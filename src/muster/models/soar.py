from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin, TenantScoped, TimestampMixin


class SoarProcess(IdMixin, TenantScoped, TimestampMixin, Base):
    """One run of one playbook version on one incident, with every field of the seed's SOAR
    Process (reference.md §1.3) and muster's own state (`status`, `timeout_at`, `error`)."""

    __tablename__ = "soar_processes"
    __table_args__ = (
        Index("ix_soar_processes_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_soar_processes_incident", "incident_id", "created_at"),
        Index("ix_soar_processes_status_timeout", "status", "timeout_at"),
    )

    incident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    playbook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("playbooks.id", ondelete="CASCADE"))
    playbook_version: Mapped[int] = mapped_column()
    parent_process_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("soar_processes.id", ondelete="CASCADE"), default=None
    )
    process_hash: Mapped[str] = mapped_column(String(16), unique=True)
    # incident | email | manual | playbook (a child run)
    trigger: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(320))
    # PENDING, RUNNING, WAITING_INPUT, WAITING_CHILD, SLEEPING, FINISHED, FAILED, CANCELLED
    status: Mapped[str] = mapped_column(String(16))
    memory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    current_step_id: Mapped[str | None] = mapped_column(String(100), default=None)
    current_soar_question_step: Mapped[str | None] = mapped_column(String(100), default=None)
    current_soar_question: Mapped[str | None] = mapped_column(Text, default=None)
    current_soar_answer_memory: Mapped[str | None] = mapped_column(String(100), default=None)
    current_soar_options: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    current_soar_asked: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    timeout_at: Mapped[datetime | None] = mapped_column(default=None)
    loop_index: Mapped[int] = mapped_column(default=0)
    loop_collection: Mapped[str | None] = mapped_column(String(200), default=None)
    loop_collection_length: Mapped[int] = mapped_column(default=0)
    # enclosing loops, innermost last: [{"step", "index", "items", "as", "collection"}]
    loop_stack: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    steps_run: Mapped[int] = mapped_column(default=0)
    # who had the incident before SOAR took it (the playbook's `handBack: previous`)
    previous_assignee: Mapped[str | None] = mapped_column(String(320), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class SoarStepLog(IdMixin, TenantScoped, Base):
    """One executed step of a process: inputs, outputs, timing and error."""

    __tablename__ = "soar_step_logs"
    __table_args__ = (Index("ix_soar_step_logs_process", "process_id", "started_at"),)

    process_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("soar_processes.id", ondelete="CASCADE")
    )
    step_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str | None] = mapped_column(String(100), default=None)
    attempt: Mapped[int] = mapped_column(default=1)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | error | asked | answered | timeout …
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    next_step_id: Mapped[str | None] = mapped_column(String(100), default=None)
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime] = mapped_column()
