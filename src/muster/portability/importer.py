"""Import one tenant from an export file: streamed, batched, resumable.

Policy (docs/backup.md):
- The file must be a `muster-tenant-export` of a version this muster reads, and each record
  type's columns must fit this database's tables; otherwise nothing is written.
- The tenant must not be in the database yet. It is created first, suspended with a marker
  naming the export (`records.import_marker`), so nobody uses it half-imported. A tenant that
  carries the marker of the same export is a resumed import: the run goes on (rows already
  there are skipped by primary key, `muster.portability.loader`). Any other existing tenant
  is refused (`TenantExists`).
- Every row must be the tenant's (its `tenant_id`), records come in the format's type order,
  and roles are tenant roles: a file cannot write into another tenant or grant global power.
- A file without its trailer is truncated: the rows read are kept, but the tenant stays
  suspended and the run fails, unless `allow_partial`. With the trailer, its counts must
  match the records read, and the database must then hold at least that many rows of each
  type for the tenant. Only then is the tenant's own suspension state restored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select, update

from muster.db import Base, SystemContext, unit_of_work
from muster.db.engine import Database
from muster.models.enums import TENANT_ROLES
from muster.portability.columns import BadValue, RowDecoder
from muster.portability.exporter import owned_by
from muster.portability.loader import BatchLoader
from muster.portability.reader import Header, Record, RecordReader, read_header
from muster.portability.records import (
    BY_NAME,
    POSITION,
    TRAILER,
    ImportRefused,
    RecordType,
    TenantExists,
    exported_columns,
    import_marker,
)

TENANT_ROLE_NAMES = frozenset(role.value for role in TENANT_ROLES)
UNCHECKED_COUNTS = frozenset({"job"})  # a running worker may purge finished jobs meanwhile
RECORD_ORDER_NAMES = list(POSITION)


@dataclass(slots=True)
class ImportSummary:
    """What an import did: records read per type, rows the tenant now has, and how it ended."""

    tenant_id: uuid.UUID
    tenant_name: str
    export_id: str
    resumed: bool = False
    complete: bool = False
    read: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    users_matched_by_email: int = 0


def import_tenant(
    db: Database,
    reader: RecordReader,
    *,
    tenant_name: str | None = None,
    allow_partial: bool = False,
    batch_size: int = 1000,
) -> ImportSummary:
    """Import the file `reader` reads; raise `ImportRefused` / `TenantExists` naming the problem
    (rows of earlier batches then stay, with the tenant suspended, ready to be resumed)."""
    records = iter(reader)
    try:
        first = next(records, None)
    except ImportRefused:
        first = None  # not even a record: not an export file
    header = read_header(first)
    decoders = _decoders(header)
    tenant = _tenant_row(next(records, None), header, decoders, tenant_name)
    suspended = tenant.get("suspended")
    marker = import_marker(header.export_id)
    resumed, name = _open_tenant(db, {**tenant, "suspended": marker}, marker)
    summary = ImportSummary(header.tenant_id, name, header.export_id, resumed=resumed)
    summary.read["tenant"] = 1
    loader = BatchLoader(db, header.tenant_id, batch_size)
    trailer = _load(records, header, decoders, loader, summary.read)
    loader.flush()
    summary.users_matched_by_email = len(loader.user_ids)
    summary.complete = trailer is not None and not reader.cut_short
    if not summary.complete and not allow_partial:
        raise ImportRefused(
            "the file ends without its trailer: it is truncated. The rows read are stored and "
            f"tenant {header.tenant_id} stays suspended; import the complete file (the run "
            "resumes), or pass --allow-partial to keep what there is",
            code="import.truncated",
        )
    if trailer is not None:
        _check_trailer(trailer, summary.read)
    summary.stored = _stored_counts(db, header.tenant_id, summary.read)
    _finish(db, header.tenant_id, suspended)
    return summary


def _decoders(header: Header) -> dict[str, RowDecoder]:
    """A decoder per record type of the file; refuse types and columns this database lacks."""
    decoders = {}
    for type_name, names in header.columns.items():
        record_type = BY_NAME.get(type_name)
        if record_type is None:
            raise ImportRefused(
                f"record type {type_name!r} is unknown to this muster (a newer one wrote the "
                "file?)",
                code="import.unknown_type",
            )
        table = Base.metadata.tables[record_type.table]
        _check_columns(type_name, table, names)
        decoders[type_name] = RowDecoder(table, names)
    return decoders


def _check_columns(type_name: str, table: Table, names: list[str]) -> None:
    """The file's columns of a type must be columns here, and the rest must have a default."""
    known = exported_columns(table)
    extra = sorted(set(names) - set(known))
    if extra:
        raise ImportRefused(
            f"{type_name} records have columns {extra} this database does not take "
            "(upgrade muster and run `muster db upgrade`?)",
            code="import.unknown_column",
        )
    for name in sorted(set(known) - set(names)):
        column = table.c[name]
        if not column.nullable and column.default is None and column.server_default is None:
            raise ImportRefused(
                f"{type_name} records lack column {name!r}, which this database requires",
                code="import.missing_column",
            )


def _tenant_row(
    record: Record | None,
    header: Header,
    decoders: Mapping[str, RowDecoder],
    name: str | None,
) -> dict[str, Any]:
    """The tenant's row (renamed to `name` if given): the first record after the header, with
    the header's tenant id."""
    if record is None or record.type != "tenant" or "tenant" not in decoders:
        raise ImportRefused("the tenant record must follow the header", code="import.bad_order")
    if name:
        record = Record(record.line, record.type, {**record.data, "name": name})
    row = _decode(decoders["tenant"], record)
    if row["id"] != header.tenant_id:
        raise ImportRefused(
            f"line {record.line}: the tenant record is not the header's tenant",
            code="import.foreign_row",
        )
    return row


def _open_tenant(db: Database, row: dict[str, Any], marker: str) -> tuple[bool, str]:
    """Create the tenant (suspended by `marker`), or find it carrying `marker` (True: resume);
    and its name."""
    tenants = Base.metadata.tables["tenants"]
    with unit_of_work(db, SystemContext(), write=True) as session:
        conn = session.connection()
        state = conn.execute(
            select(tenants.c.suspended, tenants.c.name).where(tenants.c.id == row["id"])
        ).first()
        if state is not None:
            if state.suspended == marker:
                return True, str(state.name)
            raise TenantExists(
                f"tenant {row['id']} already exists in this database, and not as an unfinished "
                "import of this file: import into a database without it (or delete it first)"
            )
        taken = conn.execute(select(tenants.c.id).where(tenants.c.name == row["name"])).first()
        if taken is not None:
            raise TenantExists(
                f"another tenant is named {row['name']!r}: choose a name with --tenant-name"
            )
        conn.execute(tenants.insert(), [row])
    return False, str(row["name"])


def _load(
    records: Iterator[Record],
    header: Header,
    decoders: Mapping[str, RowDecoder],
    loader: BatchLoader,
    read: dict[str, int],
) -> Record | None:
    """Check and queue every row record; return the trailer (None if the file has none)."""
    position = POSITION["tenant"]
    for record in records:
        if record.type == TRAILER:
            if next(records, None) is not None:
                raise ImportRefused(
                    f"line {record.line}: records follow the trailer", code="import.bad_order"
                )
            return record
        record_type = BY_NAME.get(record.type)
        if record_type is None or record.type not in decoders or record.type == "tenant":
            raise ImportRefused(
                f"line {record.line}: unexpected record type {record.type!r}",
                code="import.unknown_type",
            )
        if POSITION[record.type] < position:
            raise ImportRefused(
                f"line {record.line}: {record.type} records must come before "
                f"{RECORD_ORDER_NAMES[position]} records",
                code="import.bad_order",
            )
        position = POSITION[record.type]
        row = _decode(decoders[record.type], record)
        _check_owner(record_type, row, header.tenant_id, record.line)
        loader.add(record_type, row, record.line)
        read[record.type] = read.get(record.type, 0) + 1
    return None


def _decode(decoder: RowDecoder, record: Record) -> dict[str, Any]:
    try:
        return decoder.decode(record.data)
    except BadValue as exc:
        raise ImportRefused(
            f"line {record.line} ({record.type}): {exc}", code="import.bad_record"
        ) from None


def _check_owner(
    record_type: RecordType, row: dict[str, Any], tenant: uuid.UUID, line: int
) -> None:
    """A row must be the tenant's, and any role it grants a tenant role."""
    if record_type.owner == "tenant_id" and row["tenant_id"] != tenant:
        raise ImportRefused(
            f"line {line} ({record_type.name}): the row belongs to another tenant",
            code="import.foreign_row",
        )
    if "role" in row and row["role"] not in TENANT_ROLE_NAMES:
        raise ImportRefused(
            f"line {line} ({record_type.name}): role {row['role']!r} is not a tenant role",
            code="import.bad_record",
        )


def _check_trailer(trailer: Record, read: Mapping[str, int]) -> None:
    """The trailer's counts must be the records read, type by type."""
    counts = trailer.data.get("counts")
    if not isinstance(counts, dict):
        raise ImportRefused(
            f"line {trailer.line}: the trailer has no counts", code="import.bad_line"
        )
    expected = {k: v for k, v in counts.items() if v}
    if expected != {k: v for k, v in read.items() if v}:
        raise ImportRefused(
            f"line {trailer.line}: the trailer counts {expected} records, the file holds "
            f"{dict(read)}: the file is damaged",
            code="import.count_mismatch",
        )


def _stored_counts(db: Database, tenant_id: uuid.UUID, read: Mapping[str, int]) -> dict[str, int]:
    """The tenant's rows per type; refuse if fewer than the records read (ids taken)."""
    stored = {}
    with unit_of_work(db, SystemContext()) as session:
        conn = session.connection()
        for name in read:
            record_type = BY_NAME[name]
            table = Base.metadata.tables[record_type.table]
            count = select(func.count()).select_from(table)
            stored[name] = conn.execute(count.where(owned_by(record_type, tenant_id))).scalar_one()
    short = {n: (read[n], stored[n]) for n in read if stored[n] < read[n]}
    short = {n: counts for n, counts in short.items() if n not in UNCHECKED_COUNTS}
    if short:
        raise ImportRefused(
            f"rows missing after the import (records read, rows stored): {short}",
            code="import.rows_missing",
        )
    return stored


def _finish(db: Database, tenant_id: uuid.UUID, suspended: str | None) -> None:
    """Give the tenant back its own suspension state: the import is done."""
    tenants = Base.metadata.tables["tenants"]
    with unit_of_work(db, SystemContext(), write=True) as session:
        stmt = update(tenants).where(tenants.c.id == tenant_id).values(suspended=suspended)
        session.connection().execute(stmt)
