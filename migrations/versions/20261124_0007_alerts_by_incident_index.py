"""Reads of an incident's alerts use ix_alerts_incident on SQLite too: (incident_id, tenant_id, created_at, id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rebuild ix_alerts_incident with tenant_id and id beside incident_id and created_at."""
    op.drop_index("ix_alerts_incident", table_name="alerts")
    op.create_index(
        "ix_alerts_incident", "alerts", ["incident_id", "tenant_id", "created_at", "id"]
    )


def downgrade() -> None:
    """Restore the earlier (incident_id, created_at) index."""
    op.drop_index("ix_alerts_incident", table_name="alerts")
    op.create_index("ix_alerts_incident", "alerts", ["incident_id", "created_at"])
