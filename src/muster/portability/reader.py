"""Reading an export file: its lines as records, its header, and whether it is complete.

A line that is not a JSON object with a string `type` and an object `data` is refused with its
line number, except a last line cut off mid-way (no newline, not JSON): that is a truncated
file, which the importer handles like a missing trailer.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from muster import jsontext
from muster.portability.records import FORMAT, HEADER, TRAILER, VERSION, ImportRefused

TAIL_BYTES = 1 << 16  # a trailer is far shorter than this


@dataclass(frozen=True, slots=True)
class Record:
    """One line of the file."""

    line: int
    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Header:
    """What the header says about the file."""

    export_id: str
    tenant_id: uuid.UUID
    tenant_name: str
    exported_at: str
    muster: str
    schema: str | None
    columns: Mapping[str, list[str]]


class RecordReader:
    """The records of a binary stream, in order; `cut_short` tells whether the last line was
    cut off mid-way (only known once the records have been read)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.cut_short = False

    def __iter__(self) -> Iterator[Record]:
        for number, raw in enumerate(self.stream, start=1):
            if not raw.strip():
                continue
            try:
                value = jsontext.loads(raw)
            except jsontext.JSONTextError as exc:
                if not raw.endswith(b"\n"):  # the last line, cut off
                    self.cut_short = True
                    return
                raise ImportRefused(
                    f"line {number}: not JSON ({exc})", code="import.bad_line"
                ) from None
            yield _record(number, value)


def _record(number: int, value: Any) -> Record:
    """Check the envelope of one parsed line."""
    if not (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("data"), dict)
    ):
        raise ImportRefused(
            f'line {number}: not a record (expected {{"type": ..., "data": {{...}}}})',
            code="import.bad_line",
        )
    return Record(number, value["type"], value["data"])


def read_header(record: Record | None) -> Header:
    """The header, from the file's first record; refuse a file that is not a muster export of
    a version this muster reads."""
    if record is None or record.type != HEADER:
        raise ImportRefused(
            f"not a {FORMAT} file: the first line is not its header", code="import.unknown_format"
        )
    data = record.data
    if data.get("format") != FORMAT:
        raise ImportRefused(
            f"unknown format {data.get('format')!r} (this muster reads {FORMAT})",
            code="import.unknown_format",
        )
    if data.get("version") != VERSION:
        raise ImportRefused(
            f"{FORMAT} version {data.get('version')!r} is not one this muster reads "
            f"(version {VERSION})",
            code="import.unknown_version",
        )
    try:
        columns = {str(k): [str(c) for c in v] for k, v in data["columns"].items()}
        return Header(
            export_id=str(uuid.UUID(str(data["exportId"]))),
            tenant_id=uuid.UUID(str(data["tenant"])),
            tenant_name=str(data["tenantName"]),
            exported_at=str(data["exportedAt"]),
            muster=str(data.get("muster")),
            schema=None if data.get("schema") is None else str(data["schema"]),
            columns=columns,
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ImportRefused(
            f"line 1: the header is damaged ({type(exc).__name__}: {exc})",
            code="import.bad_header",
        ) from None


def check_complete(stream: IO[bytes]) -> None:
    """Refuse a seekable file whose first line is not a header this muster reads, or whose last
    line is not a trailer (truncated); the stream is rewound afterwards."""
    first = stream.readline()
    try:
        value = jsontext.loads(first)
    except jsontext.JSONTextError:
        value = None
    is_record = isinstance(value, dict) and isinstance(value.get("data"), dict)
    read_header(Record(1, str(value.get("type")), value["data"]) if is_record else None)
    if not _ends_with_trailer(stream):
        raise ImportRefused(
            "the file does not end with its trailer line: it is truncated (nothing imported; "
            "--allow-partial imports what there is)",
            code="import.truncated",
        )


def _ends_with_trailer(stream: IO[bytes]) -> bool:
    """Whether the file's last line is a trailer (the stream is rewound afterwards)."""
    size = stream.seek(0, os.SEEK_END)
    stream.seek(max(0, size - TAIL_BYTES))
    tail = stream.read()
    stream.seek(0)
    if not tail.endswith(b"\n"):
        return False
    try:
        value = jsontext.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    except jsontext.JSONTextError:
        return False
    return isinstance(value, dict) and value.get("type") == TRAILER
