"""Read alert records from a CSV export (Log Analytics / Sentinel `SecurityAlert` exports).

The header row names the columns; each further row is one record `{column: cell}` with the
cells as text, exactly as exported (JSON inside cells, such as `Entities`, stays text; cells
may hold line breaks). A row whose cell count differs from the header is `Malformed`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from muster.alerts.stream import Malformed, Record

__all__ = ["read_csv_records"]

MAX_CELL = 64 * 1024 * 1024  # Entities cells of big alerts run to megabytes


def read_csv_records(stream: io.BufferedReader[Any]) -> Iterator[Record | Malformed]:
    """Every data row of a CSV stream as a record named by its row number (header = row 1)."""
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        rows = csv.reader(text)
        try:
            header = next(rows)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield Malformed("row 1", f"malformed CSV header: {exc}")
            return
        yield from _rows(rows, header)
    finally:
        text.detach()


def _rows(rows: Iterator[list[str]], header: list[str]) -> Iterator[Record | Malformed]:
    """The data rows; a bad row is an error and reading goes on (a decoding error ends it)."""
    number = 1
    while True:
        number += 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Malformed(f"row {number}", f"malformed CSV: {exc}")
            continue
        except UnicodeDecodeError as exc:
            yield Malformed(f"row {number}", f"not UTF-8: {exc.reason}")
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Malformed(
                f"row {number}", f"has {len(row)} cells, the header names {len(header)}"
            )
            continue
        yield Record(f"row {number}", dict(zip(header, row, strict=True)))
