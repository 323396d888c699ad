"""`muster ingest FILE`: stream a JSON array, JSON Lines or CSV file of any size into a tenant.

The file is never loaded whole: a JSON array is parsed incrementally (ijson), JSON Lines line
by line; the first non-blank byte tells which (`[` is an array). A file named `*.csv` is read
as CSV with a header row (Sentinel `SecurityAlert` exports). Records are muster alerts or
another product's (`--format NAME`, or detected per record without it; docs/sources.md).
Alerts go in batches, one transaction each, through the same `ingest` service as the API,
or with `--url` to a running server's `POST /api/v1/alerts`. Policy:
- a record that is not JSON, or not an object, is one error, named by its line or item number;
- a batch the service rejects stores nothing; it is reported with the first offending field and
  all its alerts count as errors;
- the command goes on after either (or, with `--stop-on-error`, stores what it has read before
  the error and stops), and exits with status 1 when anything failed;
- a fatal problem (unknown or suspended tenant, bad key, unreachable server) stops at once.
Every alert read ends up stored, a duplicate, or an error: `alerts = stored + duplicates +
errors` unless the run stopped early.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from muster.alerts.formats import FORMATS
from muster.alerts.formats.csv_rows import read_csv_records
from muster.alerts.stream import Malformed, Record, read_records
from muster.cli.ingest_sinks import BatchRejected, DatabaseSink, HttpSink, IngestAborted, Sink
from muster.cli.input_file import opened_input
from muster.cli.main import JsonFlag, app, console
from muster.config import Settings

InputFormat = StrEnum(  # type: ignore[misc]
    "InputFormat", {name.upper().replace("-", "_"): name for name in FORMATS}
)
InputFormat.__doc__ = "Record formats `ingest` understands (muster: the native API's alerts)."


@dataclass(slots=True)
class Totals:
    """Running counts; `alerts` counts every record read, malformed ones included."""

    alerts: int = 0
    stored: int = 0
    duplicates: int = 0
    incidents_created: int = 0
    errors: int = 0
    batches: int = 0
    failed_batches: int = 0
    stopped: str | None = None


class Pump:
    """Moves records into a sink in batches, keeps the totals and reports failures as they come."""

    def __init__(self, sink: Sink, batch_size: int, stop_on_error: bool) -> None:
        self.sink, self.batch_size, self.stop_on_error = sink, batch_size, stop_on_error
        self.totals = Totals()

    def run(self, records: Iterator[Record | Malformed], tick: Callable[[], None]) -> Totals:
        """Send every record; stop early only on `--stop-on-error` or a fatal problem."""
        try:
            self._run(records, tick)
        except IngestAborted as exc:
            self.totals.stopped = f"aborted: {exc}"
        return self.totals

    def _run(self, records: Iterator[Record | Malformed], tick: Callable[[], None]) -> None:
        """Send the records in batches; the totals say how far it got."""
        pending: list[Record] = []
        for record in records:
            self.totals.alerts += 1
            if isinstance(record, Malformed):
                self.totals.errors += 1
                _complain(f"[red]{record.where}:[/red] {record.message}")
                if self.stop_on_error:
                    self._flush(pending)
                    self.totals.stopped = f"stopped at {record.where} (--stop-on-error)"
                    return
                continue
            pending.append(record)
            if len(pending) >= self.batch_size:
                ok, pending = self._flush(pending), []
                tick()
                if not ok and self.stop_on_error:
                    self.totals.stopped = (
                        f"stopped after batch {self.totals.batches} (--stop-on-error)"
                    )
                    return
        self._flush(pending)

    def _flush(self, batch: list[Record]) -> bool:
        """Send one batch and count it; True when it was stored."""
        if not batch:
            return True
        self.totals.batches += 1
        try:
            outcome = self.sink.send([record.payload for record in batch])
        except BatchRejected as exc:
            self.totals.failed_batches += 1
            self.totals.errors += len(batch)
            _complain(
                f"[red]batch {self.totals.batches} ({batch[0].where} to {batch[-1].where}) "
                f"rejected, nothing of it stored:[/red] {_locate(exc.field, batch)}: "
                f"{exc.message}"
            )
            return False
        self.totals.stored += len(batch) - outcome.duplicates
        self.totals.duplicates += outcome.duplicates
        self.totals.incidents_created += outcome.incidents_created
        return True


def _complain(text: str) -> None:
    """One error line on the console, never wrapped (so it stays greppable)."""
    console.print(text, highlight=False, soft_wrap=True)


def _locate(field: str | None, batch: list[Record]) -> str:
    """Turn a service field path (`alerts[16].severity`) into a place in the input."""
    match = re.fullmatch(r"alerts\[(\d+)\]\.?(.*)", field or "")
    if match and int(match[1]) < len(batch):
        return f"{batch[int(match[1])].where}, field {match[2] or '(the alert)'}"
    if field and len(batch) == 1:
        return f"{batch[0].where}, field {field}"
    return f"field {field}" if field else "the batch"


FileArg = Annotated[
    str, typer.Argument(metavar="FILE", help="JSON array or JSON Lines; - is stdin")
]
TenantOpt = Annotated[
    uuid.UUID | None, typer.Option(help="tenant id (with --url: sent as X-Muster-Tenant)")
]
FormatOpt = Annotated[
    InputFormat | None,
    typer.Option("--format", help="records' product format; detected per record if not given"),
]
BatchOpt = Annotated[int, typer.Option(min=1, max=10_000, help="alerts per batch")]
StopOpt = Annotated[bool, typer.Option("--stop-on-error", help="stop at the first failure")]
UrlOpt = Annotated[str | None, typer.Option(help="send to this server instead of the database")]
KeyOpt = Annotated[str | None, typer.Option(envvar="MUSTER_API_KEY", help="API key for --url")]


@app.command()
def ingest(
    file: FileArg,
    tenant: TenantOpt = None,
    input_format: FormatOpt = None,
    batch_size: BatchOpt = 1000,
    stop_on_error: StopOpt = False,
    url: UrlOpt = None,
    key: KeyOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest a JSON array, JSON Lines or CSV file of any size in batches; exit 1 if anything
    failed."""
    source = str(input_format.value) if input_format is not None else None
    with opened_input(file) as (stream, size):
        try:
            sink = _sink(tenant, url, key, source)
        except IngestAborted as exc:
            _complain(f"[red]ingest aborted:[/red] {exc}")
            raise typer.Exit(1) from None
        try:
            is_csv = file.casefold().endswith(".csv")
            totals = _run(stream, size, Pump(sink, batch_size, stop_on_error), is_csv)
        finally:
            sink.close()
    _summary(totals, as_json)
    if totals.errors or totals.stopped:
        raise typer.Exit(1)


def _sink(tenant: uuid.UUID | None, url: str | None, key: str | None, source: str | None) -> Sink:
    """The destination the options name: a running server or the configured database."""
    if url is not None:
        if not key:
            raise typer.BadParameter("--url needs --key (or MUSTER_API_KEY)", param_hint="--key")
        return HttpSink(url, key, tenant, source)
    if tenant is None:
        raise typer.BadParameter("which tenant? (or give --url and --key)", param_hint="--tenant")
    return DatabaseSink(Settings(), tenant, source)


def _run(
    stream: io.BufferedReader[Any], size: int | None, pump: Pump, is_csv: bool = False
) -> Totals:
    """Pump the stream into the sink under a progress bar of bytes read (on a terminal)."""
    columns = (
        TextColumn("[bold]ingest"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[alerts]} alerts"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("ingest", total=size, alerts=0)

        def tick() -> None:
            """Move the bar to the bytes read so far (files only) and show the alert count."""
            done = stream.tell() if size is not None else 0
            progress.update(task, completed=done, alerts=pump.totals.alerts)

        records = read_csv_records(stream) if is_csv else read_records(stream)
        pump.run(records, tick)
        tick()
    return pump.totals


def _summary(totals: Totals, as_json: bool) -> None:
    """The final counts: a table on the console, and JSON on stdout with --json."""
    table = Table("", "count", title="muster ingest")
    table.columns[1].justify = "right"
    rows = (
        ("alerts read", totals.alerts),
        ("stored", totals.stored),
        ("duplicates", totals.duplicates),
        ("incidents created", totals.incidents_created),
        ("errors", totals.errors),
        ("batches (failed)", f"{totals.batches} ({totals.failed_batches})"),
    )
    for label, value in rows:
        table.add_row(label, str(value), style="red" if label == "errors" and value else None)
    console.print(table)
    if totals.stopped:
        _complain(f"[yellow]{totals.stopped}[/yellow]")
    if as_json:
        typer.echo(json.dumps({_camel(k): v for k, v in asdict(totals).items()}, indent=2))


def _camel(name: str) -> str:
    """`incidents_created` -> `incidentsCreated`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
