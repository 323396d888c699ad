"""Entity-aware grouping: which incidents hold an entity, and how common each entity is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muster.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create entity_commonness and entity_incidents (with its look-up index)."""
    op.create_table(
        "entity_commonness",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("entity_key", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("prior", sa.Integer(), nullable=False),
        sa.Column("since", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_entity_commonness_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "entity_key", name=op.f("pk_entity_commonness")),
    )
    op.create_table(
        "entity_incidents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("entity_key", sa.String(length=32), nullable=False),
        sa.Column("first_alert_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_entity_incidents_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_entity_incidents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "entity_key", name=op.f("pk_entity_incidents")),
    )
    op.create_index(
        "ix_entity_incidents_lookup",
        "entity_incidents",
        ["tenant_id", "entity_key", "first_alert_at"],
        unique=False,
    )


def downgrade() -> None:
    """Drop what `upgrade` created."""
    op.drop_index("ix_entity_incidents_lookup", table_name="entity_incidents")
    op.drop_table("entity_incidents")
    op.drop_table("entity_commonness")
