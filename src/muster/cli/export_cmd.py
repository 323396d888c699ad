"""`muster export TENANT_ID` and `muster import FILE`: one tenant as JSON Lines.

The format, what is in it and the import's policy (resumable, refuses unknown or truncated
files and existing tenants) are in `muster.portability` and docs/backup.md. Both commands
print their counts on stderr (a table), or as JSON on stdout with `--json`; a refusal is one
line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from muster.cli.input_file import opened_input
from muster.cli.main import JsonFlag, app, console
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import create_db_engine
from muster.db.engine import Database
from muster.errors import DomainError
from muster.logs import configure_logging
from muster.portability.exporter import export_tenant
from muster.portability.importer import ImportSummary, import_tenant
from muster.portability.reader import RecordReader, check_complete

OutOpt = Annotated[str, typer.Option("--out", "-o", help="file to write, or - for stdout")]


@app.command("export")
def export(tenant_id: uuid.UUID, out: OutOpt = "-", as_json: JsonFlag = False) -> None:
    """Write a tenant (every row it owns) as JSON Lines; a file appears only once complete."""
    if as_json and out == "-":
        raise typer.BadParameter("--json needs --out FILE (stdout carries the export)")
    db = _database()
    try:
        with _output(out) as stream:
            summary = export_tenant(db, tenant_id, stream.write, SystemClock().now())
    except DomainError as exc:
        _refuse("export failed", exc.detail)
    except DBAPIError as exc:
        _refuse("export failed: database error", _first_line(exc.orig))
    finally:
        db.dispose()
    data = {
        "exportId": summary.export_id,
        "tenant": str(summary.tenant_id),
        "tenantName": summary.tenant_name,
        "counts": summary.counts,
    }
    console.print(_table(f"muster export: {summary.tenant_name}", {"records": summary.counts}))
    if as_json:
        typer.echo(json.dumps(data, indent=2))


def _database() -> Database:
    """The configured database, with logs on stderr (stdout may carry the export)."""
    settings = Settings()
    configure_logging(settings)
    return create_db_engine(settings)


@contextmanager
def _output(out: str) -> Iterator[IO[bytes]]:
    """Stdout, or `out` written as `out.partial` (owner-only: it holds secrets) and renamed
    into place when the export succeeded."""
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    partial = target.with_name(target.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot write {out}: {exc.strerror}", param_hint="--out"
        ) from None
    try:
        with open(fd, "wb", buffering=1 << 20) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="an export file, or - for stdin")],
    tenant_name: Annotated[
        str | None, typer.Option(help="a new name for the tenant (when its own is taken here)")
    ] = None,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="import a truncated file (no trailer)")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=50_000, help="rows per transaction")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """Import a tenant from `muster export` output into this database; run it again after a
    crash to finish (nothing is duplicated)."""
    db = _database()
    try:
        with opened_input(file) as (stream, _size):
            if file != "-" and not allow_partial:
                check_complete(stream)
            summary = import_tenant(
                db,
                RecordReader(stream),
                tenant_name=tenant_name,
                allow_partial=allow_partial,
                batch_size=batch_size,
            )
    except DomainError as exc:
        _refuse("import refused", exc.detail)
    except DBAPIError as exc:  # e.g. a database without muster's schema (muster db upgrade)
        _refuse("import failed: database error", _first_line(exc.orig))
    finally:
        db.dispose()
    _import_report(summary, as_json)


def _import_report(summary: ImportSummary, as_json: bool) -> None:
    """The counts as a table on stderr, and as JSON on stdout with --json."""
    state = "complete" if summary.complete else "PARTIAL (no trailer)"
    title = (
        f"muster import: {summary.tenant_name} ({state}{', resumed' if summary.resumed else ''})"
    )
    console.print(_table(title, {"read": summary.read, "stored": summary.stored}))
    if summary.users_matched_by_email:
        console.print(
            f"{summary.users_matched_by_email} user(s) existed here already (same e-mail): "
            "their memberships name the existing users"
        )
    if as_json:
        data = {
            "tenant": str(summary.tenant_id),
            "tenantName": summary.tenant_name,
            "exportId": summary.export_id,
            "resumed": summary.resumed,
            "complete": summary.complete,
            "read": summary.read,
            "stored": summary.stored,
            "usersMatchedByEmail": summary.users_matched_by_email,
        }
        typer.echo(json.dumps(data, indent=2))


def _table(title: str, columns: Mapping[str, Mapping[str, Any]]) -> Table:
    """Counts per record type, one column per mapping."""
    table = Table("type", *columns, title=title)
    for column in table.columns[1:]:
        column.justify = "right"
    names = dict.fromkeys(name for counts in columns.values() for name in counts)
    for name in names:
        table.add_row(name, *(str(counts.get(name, "")) for counts in columns.values()))
    return table


def _refuse(what: str, why: str) -> NoReturn:
    """Say why on stderr and exit with status 1."""
    console.print(f"[red]{what}:[/red] {why}", highlight=False)
    raise typer.Exit(1) from None


def _first_line(error: BaseException | None) -> str:
    """The first line of a driver's message."""
    return str(error).strip().splitlines()[0] if error is not None else "unknown error"
