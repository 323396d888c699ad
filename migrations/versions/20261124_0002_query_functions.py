"""Filter language SQL functions: muster_incidr(text, cidr) on PostgreSQL.

SQLite gets the same function (and REGEXP) from the connection hook in `muster.db.engine`,
so this revision does nothing there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDR = """
CREATE OR REPLACE FUNCTION muster_incidr(value text, network cidr) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN family(value::inet) = family(network) AND value::inet <<= network;
EXCEPTION WHEN others THEN
    RETURN false;
END;
$$
"""


def upgrade() -> None:
    """Create muster_incidr on PostgreSQL (false, not an error, for text that is no address)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(INCIDR)


def downgrade() -> None:
    """Drop muster_incidr on PostgreSQL."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS muster_incidr(text, cidr)")
