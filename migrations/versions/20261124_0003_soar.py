"""SOAR: playbooks with their versions, processes with their step logs, job dedup keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muster.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the SOAR tables and the jobs' dedup key."""
    op.create_table(
        "playbooks",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=True),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_playbooks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbooks")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_playbooks_tenant_id_name")),
    )
    with op.batch_alter_table("playbooks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_playbooks_tenant_trigger_weight", ["tenant_id", "trigger", "weight"], unique=False
        )

    op.create_table(
        "playbook_versions",
        sa.Column("playbook_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["playbook_id"],
            ["playbooks.id"],
            name=op.f("fk_playbook_versions_playbook_id_playbooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_playbook_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_versions")),
        sa.UniqueConstraint(
            "playbook_id", "version", name=op.f("uq_playbook_versions_playbook_id_version")
        ),
    )
    op.create_table(
        "soar_processes",
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("playbook_id", sa.Uuid(), nullable=False),
        sa.Column("playbook_version", sa.Integer(), nullable=False),
        sa.Column("parent_process_id", sa.Uuid(), nullable=True),
        sa.Column("process_hash", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("memory", sa.JSON(), nullable=False),
        sa.Column("current_step_id", sa.String(length=100), nullable=True),
        sa.Column("current_soar_question_step", sa.String(length=100), nullable=True),
        sa.Column("current_soar_question", sa.Text(), nullable=True),
        sa.Column("current_soar_answer_memory", sa.String(length=100), nullable=True),
        sa.Column("current_soar_options", sa.JSON(), nullable=True),
        sa.Column("current_soar_asked", sa.JSON(), nullable=True),
        sa.Column("timeout_at", muster.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("loop_index", sa.Integer(), nullable=False),
        sa.Column("loop_collection", sa.String(length=200), nullable=True),
        sa.Column("loop_collection_length", sa.Integer(), nullable=False),
        sa.Column("loop_stack", sa.JSON(), nullable=False),
        sa.Column("steps_run", sa.Integer(), nullable=False),
        sa.Column("previous_assignee", sa.String(length=320), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", muster.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_soar_processes_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_process_id"],
            ["soar_processes.id"],
            name=op.f("fk_soar_processes_parent_process_id_soar_processes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["playbook_id"],
            ["playbooks.id"],
            name=op.f("fk_soar_processes_playbook_id_playbooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_soar_processes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_soar_processes")),
        sa.UniqueConstraint("process_hash", name=op.f("uq_soar_processes_process_hash")),
    )
    with op.batch_alter_table("soar_processes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_soar_processes_incident", ["incident_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_soar_processes_status_timeout", ["status", "timeout_at"], unique=False
        )
        batch_op.create_index(
            "ix_soar_processes_tenant_created", ["tenant_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "soar_step_logs",
        sa.Column("process_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_step_id", sa.String(length=100), nullable=True),
        sa.Column("started_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", muster.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["soar_processes.id"],
            name=op.f("fk_soar_step_logs_process_id_soar_processes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_soar_step_logs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_soar_step_logs")),
    )
    with op.batch_alter_table("soar_step_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_soar_step_logs_process", ["process_id", "started_at"], unique=False
        )

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_jobs_dedup_key"), ["dedup_key"])


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_jobs_dedup_key"), type_="unique")
        batch_op.drop_column("dedup_key")

    with op.batch_alter_table("soar_step_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_soar_step_logs_process")

    op.drop_table("soar_step_logs")
    with op.batch_alter_table("soar_processes", schema=None) as batch_op:
        batch_op.drop_index("ix_soar_processes_tenant_created")
        batch_op.drop_index("ix_soar_processes_status_timeout")
        batch_op.drop_index("ix_soar_processes_incident")

    op.drop_table("soar_processes")
    op.drop_table("playbook_versions")
    with op.batch_alter_table("playbooks", schema=None) as batch_op:
        batch_op.drop_index("ix_playbooks_tenant_trigger_weight")

    op.drop_table("playbooks")
