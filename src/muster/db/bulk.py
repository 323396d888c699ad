"""Bulk inserts for the ingest path: `COPY` on PostgreSQL, the driver's executemany on SQLite.

An ingest batch writes a thousand alerts and hundreds of timeline rows. Through
`connection.execute(insert(table), rows)` SQLAlchemy builds a parameter dictionary per row,
and on PostgreSQL psycopg then runs one `INSERT` per row; both cost more than the database's
own work. `insert_rows` keeps SQLAlchemy's column types (their bind processors turn values
into what the driver stores, exactly as an ORM insert would) and Python-side column defaults,
but hands the driver plain tuples: one `COPY ... FROM STDIN` on PostgreSQL, one
`executemany` on SQLite. It runs on the caller's connection, inside its transaction.

Like every Core write in a repository, it bypasses the ORM tenancy hooks: rows must carry
their `tenant_id` (`muster.db.tenancy`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

Processor = Callable[[Any], Any]
COPY_FROM_ROWS = 32  # fewer rows go as one plain INSERT on PostgreSQL (a timeline entry or two)


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_existing: bool = False,
) -> None:
    """Insert `rows` (all with the same keys, which must be column names) into `table`.

    Columns a row leaves out get their Python-side default, as with `insert(table)`.
    `skip_existing` leaves out rows whose primary key is taken (ON CONFLICT DO NOTHING; on
    PostgreSQL the rows are copied into a temporary table first).
    """
    if not rows:
        return
    names = list(rows[0])
    given = set(names)
    unknown = given - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)[0]!r}")
    defaulted = [c for c in table.columns if c.name not in given and c.default is not None]
    columns = [table.c[name] for name in names] + defaulted
    encode = _encoder(connection, columns, len(names))
    tuples = [encode(row) for row in rows]
    prep = connection.dialect.identifier_preparer
    column_list = ", ".join(prep.format_column(c) for c in columns)
    target = prep.format_table(table)
    on_conflict = ""
    if skip_existing:
        keys = ", ".join(prep.format_column(c) for c in table.primary_key.columns)
        on_conflict = f" ON CONFLICT ({keys}) DO NOTHING"
    if connection.dialect.name == "postgresql" and len(rows) < COPY_FROM_ROWS:
        stmt = insert(table)  # a COPY costs more
        if skip_existing:
            primary_key = list(table.primary_key.columns)
            stmt = pg_insert(table).on_conflict_do_nothing(index_elements=primary_key)
        connection.execute(stmt, [dict(row) for row in rows])
        return
    if connection.dialect.name == "postgresql":
        staging = f"muster_bulk_{table.name}" if skip_existing else None
        if staging is not None:
            connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {staging} (LIKE {target})")
        _copy(connection, staging or target, column_list, tuples)
        if staging is not None:
            connection.exec_driver_sql(
                f"INSERT INTO {target} ({column_list}) SELECT {column_list} FROM {staging}"
                + on_conflict
            )
            connection.exec_driver_sql(f"DROP TABLE {staging}")
        return
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {target} ({column_list}) VALUES ({marks}){on_conflict}", tuples
    )


def _copy(connection: Connection, target: str, column_list: str, tuples: list[Any]) -> None:
    """COPY the rows into `target` (PostgreSQL)."""
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(  # type: ignore[attr-defined]
            f"COPY {target} ({column_list}) FROM STDIN"
        ) as copy:
            for values in tuples:
                copy.write_row(values)
    finally:
        cursor.close()


def _encoder(
    connection: Connection, columns: Sequence[Column[Any]], given: int
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function turning one row into the driver's values, defaults filled in."""
    dialect = connection.dialect
    processors: list[Processor | None] = [
        column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
    ]
    names = [column.name for column in columns[:given]]
    defaults: list[Callable[[], Any]] = [_default_of(column) for column in columns[given:]]
    plan = [(index, process) for index, process in enumerate(processors) if process is not None]

    def encode(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = [row[name] for name in names]
        values.extend(default() for default in defaults)
        for index, process in plan:  # processors take None too (JSON stores it as null)
            values[index] = process(values[index])
        return tuple(values)

    return encode


def _default_of(column: Column[Any]) -> Callable[[], Any]:
    """The column's Python-side default as a function of nothing."""
    default: Any = column.default
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        make = default.arg
        return lambda: make(None)  # SQLAlchemy wraps zero-argument defaults to take a context
    raise ValueError(f"{column.table.name}.{column.name}: a SQL default cannot be bulk-copied")
