"""Incident resolution reasons, comment edits and incident relations (the compatible APIs).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muster.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add incidents.resolution_reason, comments.updated_at and the incident_relations table."""
    op.create_table(
        "incident_relations",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("related_resource_id", sa.Text(), nullable=False),
        sa.Column("created_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_relations_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incident_relations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_relations")),
        sa.UniqueConstraint(
            "incident_id", "name", name=op.f("uq_incident_relations_incident_id_name")
        ),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("updated_at", muster.db.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution_reason", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop what `upgrade` added."""
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("resolution_reason")

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("updated_at")

    op.drop_table("incident_relations")
