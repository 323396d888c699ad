"""An incident's evidence as a table of strings, built from its alerts' raw payloads.

Pure. ContraForce serves evidence as a Log Analytics result: `{columns, rows}`, every cell a
string. muster has the original vendor payload of each alert (`raw`), so each alert is one row
and the columns are the payloads' fields: top-level keys, nested objects flattened with dots
(`process.command_line`), lists and anything deeper written as compact JSON, absent fields as
empty strings. Columns come in first-seen order, capped at `MAX_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

MAX_COLUMNS = 200
MAX_DEPTH = 3  # nested objects deeper than this are one JSON cell


@dataclass(frozen=True, slots=True)
class EvidenceTable:
    """Column names and rows of string cells, one row per alert."""

    columns: list[str]
    rows: list[list[str]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _flatten(value: Any, prefix: str, depth: int) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping) and value and depth < MAX_DEPTH:
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    else:
        yield (prefix or "raw"), _cell(value)


def evidence_table(raws: Sequence[Any]) -> EvidenceTable:
    """One row per payload; every cell a string; the same columns for every row."""
    columns: dict[str, None] = {}
    flat_rows: list[dict[str, str]] = []
    for raw in raws:
        row = dict(_flatten(raw, "", 0))
        for name in row:
            if name not in columns and len(columns) < MAX_COLUMNS:
                columns[name] = None
        flat_rows.append(row)
    names = list(columns)
    return EvidenceTable(names, [[row.get(name, "") for name in names] for row in flat_rows])
