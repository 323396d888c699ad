"""Batched, idempotent writes of imported rows: one transaction per batch.

Every row keeps its id, and rows are inserted with `ON CONFLICT (primary key) DO NOTHING`, so
running an import again after a crash writes only what is missing: a row that is already
there (from the interrupted run) is left as it is and nothing is duplicated. Any other
uniqueness clash (an incident hash, an API key prefix taken in the target database) fails the
batch, which then leaves nothing behind.

Before a batch commits it is checked against the database: its ids must not belong to
another tenant (a do-nothing conflict would otherwise hide that), and every foreign key must
point at a row of the importing tenant. Users are global: a user whose e-mail exists in the
target database under another id is not inserted; the tenant's memberships then name the
existing user (`user_ids`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.exc import DBAPIError

from muster.db import Base, SystemContext, unit_of_work
from muster.db.bulk import insert_rows
from muster.db.engine import Database
from muster.portability.records import ImportRefused, RecordType

CHUNK = 500  # ids per IN (...) of a check


class BatchLoader:
    """Collects decoded rows of one type at a time and writes them `size` rows per transaction."""

    def __init__(self, db: Database, tenant_id: uuid.UUID, size: int) -> None:
        self.db, self.tenant_id, self.size = db, tenant_id, size
        self.user_ids: dict[uuid.UUID, uuid.UUID] = {}  # file's user id -> target's, if other
        self._type: RecordType | None = None
        self._rows: list[dict[str, Any]] = []
        self._lines = (0, 0)

    def add(self, record_type: RecordType, row: dict[str, Any], line: int) -> None:
        """Queue one row; a full batch, or a change of type, writes the batch first."""
        if self._type is not None and record_type.name != self._type.name:
            self.flush()
        if not self._rows:
            self._type, self._lines = record_type, (line, line)
        self._rows.append(row)
        self._lines = (self._lines[0], line)
        if len(self._rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows in one transaction (nothing of it stays if any check fails)."""
        if self._type is None or not self._rows:
            return
        record_type, rows = self._type, self._rows
        self._rows = []
        table = Base.metadata.tables[record_type.table]
        try:
            with unit_of_work(self.db, SystemContext(), write=True) as session:
                conn = session.connection()
                if record_type.name == "user":
                    rows = self._new_users(conn, rows)
                elif record_type.name == "membership":
                    rows = [self._member(row) for row in rows]
                if rows:
                    insert_rows(conn, table, rows, skip_existing=True)
                    self._check_ownership(conn, record_type, table, rows)
        except DBAPIError as exc:
            first, last = self._lines
            raise ImportRefused(
                f"lines {first}-{last} ({record_type.name}): the database refused them: "
                f"{_first_line(exc.orig)}",
                code="import.database_refused",
            ) from None
        self.db.inserted(table.name, len(rows))

    def _new_users(self, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The users to insert; one whose e-mail another user has is mapped to that user."""
        users = Base.metadata.tables["users"]
        emails = [row["email"] for row in rows]
        found_by_email = select(users.c.email, users.c.id).where(users.c.email.in_(emails))
        existing: dict[str, uuid.UUID] = {email: id_ for email, id_ in conn.execute(found_by_email)}
        keep = []
        for row in rows:
            found = existing.get(row["email"])
            if found is not None and found != row["id"]:
                self.user_ids[row["id"]] = found
            else:
                keep.append(row)
        return keep

    def _member(self, row: dict[str, Any]) -> dict[str, Any]:
        """A membership naming the target database's user."""
        user_id = self.user_ids.get(row["user_id"])
        return row if user_id is None else {**row, "user_id": user_id}

    def _check_ownership(
        self,
        conn: Connection,
        record_type: RecordType,
        table: Table,
        rows: Sequence[dict[str, Any]],
    ) -> None:
        """Refuse rows whose id is another tenant's, or that point at another tenant's rows."""
        first, last = self._lines
        pk = list(table.primary_key.columns)
        ids = (row[pk[0].name] for row in rows)
        owned = record_type.owner == "tenant_id" and len(pk) == 1
        if owned and _foreign_rows(conn, table, pk[0].name, ids, self.tenant_id):
            raise ImportRefused(
                f"lines {first}-{last}: {record_type.name} ids that another tenant of this "
                "database has",
                code="import.id_taken",
            )
        for fk in table.foreign_keys:
            parent = fk.column.table
            if "tenant_id" not in parent.c:  # tenants, users: global
                continue
            values = (row[fk.parent.name] for row in rows)
            if _foreign_rows(conn, parent, fk.column.name, values, self.tenant_id):
                raise ImportRefused(
                    f"lines {first}-{last}: {record_type.name}.{fk.parent.name} points at "
                    f"{parent.name} of another tenant",
                    code="import.foreign_reference",
                )


def _foreign_rows(
    conn: Connection, table: Table, column: str, values: Iterable[Any], tenant_id: uuid.UUID
) -> int:
    """How many rows of `table` with `column` among `values` belong to another tenant (or to
    none: a global API key)."""
    wanted = sorted({v for v in values if v is not None})
    found = 0
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        stmt = select(func.count()).where(
            table.c[column].in_(chunk), table.c.tenant_id.is_distinct_from(tenant_id)
        )
        found += conn.execute(stmt).scalar_one()
    return found


def _first_line(error: BaseException | None) -> str:
    """The first line of a driver's message (PostgreSQL adds DETAIL lines)."""
    return str(error).strip().splitlines()[0] if error is not None else "unknown error"
