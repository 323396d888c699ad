"""The tenant export format: JSON Lines, one `{"type": ..., "data": {...}}` object per line.

    header                        format name and version, muster version, schema revision,
                                  export id, tenant, exported-at, and the columns of each type
    tenant                        the tenant's own row (exactly one)
    user, membership, ...         every row the tenant owns, type by type in `RECORD_TYPES`
                                  order (a row's references always come before it), each
                                  type's rows by primary key
    trailer                       the number of records of each type: a file without it is
                                  truncated

`data` holds a row's columns by their SQL names, as JSON: ids as strings, timestamps as
ISO-8601 with offset, JSON columns as their value. What is left out, and why, is listed in
`LEFT_OUT_TABLES` and `LEFT_OUT_COLUMNS` (docs/backup.md has the reasoning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, Table

from muster.errors import Conflict, InvalidInput

FORMAT = "muster-tenant-export"
VERSION = 1
HEADER = "header"
TRAILER = "trailer"


@dataclass(frozen=True, slots=True)
class RecordType:
    """One kind of record: the table its rows come from and how the tenant's rows are found.

    `owner` is the column holding the tenant id (`id` for the tenant itself); None means the
    rows are found through the tenant's memberships (users, which are global).
    """

    name: str
    table: str
    owner: str | None = "tenant_id"


# In dependency order: every foreign key points at an earlier type (or at the same table, whose
# rows then come in primary-key order: time-ordered ids, parents first).
RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("tenant", "tenants", owner="id"),
    RecordType("user", "users", owner=None),
    RecordType("membership", "memberships"),
    RecordType("api_key", "api_keys"),
    RecordType("grouping_rule", "grouping_rules"),
    RecordType("playbook", "playbooks"),
    RecordType("playbook_version", "playbook_versions"),
    RecordType("webhook_subscription", "webhook_subscriptions"),
    RecordType("incident", "incidents"),
    RecordType("incident_relation", "incident_relations"),
    RecordType("comment", "comments"),
    RecordType("alert", "alerts"),
    RecordType("entity_incident", "entity_incidents"),
    RecordType("entity_commonness", "entity_commonness"),
    RecordType("soar_process", "soar_processes"),
    RecordType("soar_step_log", "soar_step_logs"),
    RecordType("audit_event", "audit_events"),
    RecordType("webhook_delivery", "webhook_deliveries"),
    RecordType("job", "jobs"),  # last: a job's data exists before the job can run
)
BY_NAME: Mapping[str, RecordType] = {t.name: t for t in RECORD_TYPES}
POSITION: Mapping[str, int] = {t.name: i for i, t in enumerate(RECORD_TYPES)}

# Tables that refer to a tenant but are not exported, and why.
LEFT_OUT_TABLES: Mapping[str, str] = {
    "web_sessions": "browser logins: a restored tenant's users sign in again",
}
# Columns of exported tables that are not exported (nor accepted on import), and why.
LEFT_OUT_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "users": {"global_admin": "a tenant's file never grants power over other tenants"},
}


class ExportIncomplete(RuntimeError):
    """A table holds tenant data but the export format does not say what to do with it."""


class ImportRefused(InvalidInput):
    """The file cannot be imported (unknown format, truncated, bad record); names the problem."""

    code = "import.refused"


class TenantExists(Conflict):
    """The tenant is already in the target database and this is not a resumed import of it."""

    code = "import.tenant_exists"


def tenant_tables(metadata: MetaData) -> list[Table]:
    """Tables that hold tenant data: a `tenant_id` column or any foreign key to `tenants`."""
    found = []
    for table in metadata.sorted_tables:
        refers = any(fk.column.table.name == "tenants" for fk in table.foreign_keys)
        if table.name != "tenants" and ("tenant_id" in table.c or refers):
            found.append(table)
    return found


def coverage_gaps(metadata: MetaData) -> list[str]:
    """Names of tenant-data tables neither exported nor deliberately left out (must be none)."""
    exported = {t.table for t in RECORD_TYPES}
    return sorted(
        t.name
        for t in tenant_tables(metadata)
        if t.name not in exported and t.name not in LEFT_OUT_TABLES
    )


def exported_columns(table: Table) -> list[str]:
    """The columns of `table` that an export writes: the primary key's first, then table order."""
    left_out = LEFT_OUT_COLUMNS.get(table.name, {})
    ordered = [*table.primary_key.columns, *(c for c in table.columns if not c.primary_key)]
    return [c.name for c in ordered if c.name not in left_out]


def envelope(record_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """One line's object."""
    return {"type": record_type, "data": data}


def import_marker(export_id: str) -> str:
    """The suspension reason an importing tenant carries until its import finishes."""
    return (
        f"import in progress (export {export_id}): run `muster import` with the same file "
        "again to finish it"
    )
