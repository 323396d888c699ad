"""Write one tenant as export records (`muster.portability.records`), streamed.

The whole export reads one snapshot (a single read transaction; REPEATABLE READ on
PostgreSQL), so rows written while it runs are either all in the file or all out of it. Each
table is read with a streaming cursor (a server-side cursor on PostgreSQL) `FETCH` rows at a
time, so memory stays flat however many alerts the tenant has. Rows are read with Core
statements that bind the tenant id themselves (`muster.db.tenancy`: a system session).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, inspect, select, text
from sqlalchemy.orm import Session

import muster
import muster.models  # registers every table
from muster import jsontext
from muster.db import Base, SystemContext, unit_of_work
from muster.db.engine import Database
from muster.errors import NotFound
from muster.portability.records import (
    FORMAT,
    HEADER,
    RECORD_TYPES,
    TRAILER,
    VERSION,
    ExportIncomplete,
    RecordType,
    coverage_gaps,
    envelope,
    exported_columns,
)

FETCH = 1000  # rows per round trip of the streaming cursor
Write = Callable[[bytes], object]


@dataclass(slots=True)
class ExportSummary:
    """What an export wrote."""

    export_id: str
    tenant_id: uuid.UUID
    tenant_name: str
    counts: dict[str, int] = field(default_factory=dict)


def export_tenant(db: Database, tenant_id: uuid.UUID, write: Write, now: datetime) -> ExportSummary:
    """Write the header, every row of the tenant type by type, and the trailer, through `write`
    (one call per line); raise `NotFound` for an unknown tenant, before writing anything."""
    gaps = coverage_gaps(Base.metadata)
    if gaps:
        raise ExportIncomplete(f"tables {gaps} hold tenant data the export format does not cover")
    with unit_of_work(db, SystemContext()) as session, _snapshot(session, db.dialect) as conn:
        tenants = _table("tenants")
        name = conn.execute(select(tenants.c.name).where(tenants.c.id == tenant_id)).scalar()
        if name is None:
            raise NotFound("tenant", tenant_id)
        summary = ExportSummary(str(uuid.uuid4()), tenant_id, name)
        write(_line(HEADER, _header(conn, summary, now)))
        for record_type in RECORD_TYPES:
            count = 0
            for data in _rows(conn, record_type, tenant_id):
                write(_line(record_type.name, data))
                count += 1
            summary.counts[record_type.name] = count
        trailer = {"counts": summary.counts, "records": sum(summary.counts.values())}
        write(_line(TRAILER, trailer))
    return summary


@contextmanager
def _snapshot(session: Session, dialect: str) -> Iterator[Connection]:
    """The session's connection as one consistent read snapshot, sorting on disk.

    Rows come out by primary key, which no index of a tenant's rows serves on its own, so the
    database sorts them: PostgreSQL spills a big sort to disk beyond `work_mem`; SQLite would
    spill to memory (muster's connections set `temp_store=MEMORY`), so for the export it
    spills to a temporary file and memory stays bounded by its cache.
    """
    if dialect == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        yield session.connection(execution_options=options)
        return
    conn = session.connection()
    conn.exec_driver_sql("PRAGMA temp_store=FILE")
    try:
        yield conn
    finally:
        conn.exec_driver_sql("PRAGMA temp_store=MEMORY")


def _header(conn: Connection, summary: ExportSummary, now: datetime) -> dict[str, Any]:
    """The header's data: what the file is, where it comes from, and each type's columns."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "muster": muster.__version__,
        "schema": _schema_revision(conn),
        "exportId": summary.export_id,
        "exportedAt": now.isoformat(),
        "tenant": str(summary.tenant_id),
        "tenantName": summary.tenant_name,
        "columns": {t.name: exported_columns(_table(t.table)) for t in RECORD_TYPES},
    }


def _schema_revision(conn: Connection) -> str | None:
    """The Alembic revision of the database (None if it was not built by Alembic)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def _rows(
    conn: Connection, record_type: RecordType, tenant_id: uuid.UUID
) -> Iterator[dict[str, Any]]:
    """The tenant's rows of one type as dictionaries, by primary key, streamed."""
    result = conn.execution_options(yield_per=FETCH).execute(owned_rows(record_type, tenant_id))
    for row in result:
        yield dict(row._mapping)


def owned_rows(record_type: RecordType, tenant_id: uuid.UUID) -> Select[Any]:
    """SELECT of the exported columns of the tenant's rows of one type, by primary key."""
    table = _table(record_type.table)
    columns = [table.c[name] for name in exported_columns(table)]
    stmt = select(*columns).where(owned_by(record_type, tenant_id))
    return stmt.order_by(*table.primary_key.columns)


def owned_by(record_type: RecordType, tenant_id: uuid.UUID) -> ColumnElement[bool]:
    """WHERE clause: the row is the tenant's (users: a member of it)."""
    table = _table(record_type.table)
    if record_type.owner is not None:
        return table.c[record_type.owner] == tenant_id
    memberships = _table("memberships")
    members = select(memberships.c.user_id).where(memberships.c.tenant_id == tenant_id)
    return table.c.id.in_(members)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _line(record_type: str, data: Any) -> bytes:
    """One JSON Lines record (ids and timestamps become strings)."""
    return (jsontext.dumps(envelope(record_type, data)) + "\n").encode()
