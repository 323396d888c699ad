"""Auth hardening: login_failures (console lockout), global_audit_events, and the partial index
ix_audit_admin that serves a tenant's administration log (`GET /api/v1/audit`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muster.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMIN_EVENTS = sa.text("subject_type <> 'incident'")


def upgrade() -> None:
    """Create login_failures and global_audit_events; index the non-incident audit events."""
    op.create_table(
        "login_failures",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("failed_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_subject", "login_failures", ["subject", "failed_at"])
    op.create_index(op.f("ix_login_failures_failed_at"), "login_failures", ["failed_at"])
    op.create_table(
        "global_audit_events",
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_global_audit_events")),
    )
    op.create_index(
        op.f("ix_global_audit_events_created_at"), "global_audit_events", ["created_at"]
    )
    op.create_index(
        "ix_audit_admin",
        "audit_events",
        ["tenant_id", "created_at", "id"],
        postgresql_where=ADMIN_EVENTS,
        sqlite_where=ADMIN_EVENTS,
    )


def downgrade() -> None:
    """Drop them again (lockout counters and the global log are lost)."""
    op.drop_index("ix_audit_admin", table_name="audit_events")
    op.drop_index(op.f("ix_global_audit_events_created_at"), table_name="global_audit_events")
    op.drop_table("global_audit_events")
    op.drop_index(op.f("ix_login_failures_failed_at"), table_name="login_failures")
    op.drop_index("ix_login_failures_subject", table_name="login_failures")
    op.drop_table("login_failures")
