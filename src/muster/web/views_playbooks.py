"""Playbook pages as they show: list rows, run history rows and validation messages (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.errors import DomainError
from muster.models import Playbook, SoarProcess

NEW_PLAYBOOK_YAML = """name: New playbook
trigger: incident
enabled: false
weight: 0
criteria: severity >= 3
steps:
- id: done
  kind: end
"""


@dataclass(frozen=True, slots=True)
class RunRow:
    """One SOAR process of a playbook."""

    id: uuid.UUID
    process_hash: str
    status: str
    incident_id: uuid.UUID
    playbook_version: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class PlaybookRow:
    """A playbook in the list, with its latest runs."""

    id: uuid.UUID
    name: str
    trigger: str
    enabled: bool
    weight: int
    version: int
    runs: Sequence[RunRow]


def run_row(process: SoarProcess) -> RunRow:
    """What the run history shows of a process."""
    return RunRow(
        process.id,
        process.process_hash,
        process.status,
        process.incident_id,
        process.playbook_version,
        process.created_at,
        process.finished_at,
        process.error,
    )


def playbook_rows(
    playbooks: Iterable[Playbook], runs: Iterable[SoarProcess], per_playbook: int
) -> list[PlaybookRow]:
    """One row per playbook (in the given order) with up to `per_playbook` runs, newest first;
    `runs` must come newest first."""
    latest: dict[uuid.UUID, list[RunRow]] = {}
    for process in runs:
        kept = latest.setdefault(process.playbook_id, [])
        if len(kept) < per_playbook:
            kept.append(run_row(process))
    return [
        PlaybookRow(p.id, p.name, p.trigger, p.enabled, p.weight, p.version, latest.get(p.id, []))
        for p in playbooks
    ]


def validation_messages(exc: DomainError) -> list[str]:
    """One message per problem, each naming its field, step and line where known."""
    if not exc.errors:
        return [exc.detail]
    return [_message(entry) for entry in exc.errors]


def _message(entry: Mapping[str, Any]) -> str:
    where = [str(entry.get("field") or "body")]
    if entry.get("step"):
        where.append(f"step {entry['step']!r}")
    if entry.get("line") is not None:
        where.append(f"line {entry['line']}, column {entry.get('column', 1)}")
    return f"{' · '.join(where)}: {entry.get('message', 'is not valid')}"
