"""The incident page as shown: seed fields, ATT&CK names, timeline, entities, SOAR panel (pure).

Every function here maps plain values (or loaded rows, read only) to display values; nothing
queries, and `now` is passed in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from muster.attack import UnknownTactic, UnknownTechnique, tactic_id, technique_name
from muster.compat.entities import EntityRecord
from muster.incidents.verdicts import allowed_reasons
from muster.models import AuditEvent, SoarProcess, SoarStepLog
from muster.models.enums import Resolution
from muster.soar.transitions import ACTIVE
from muster.web.views_queue import countdown_text

# The seed's incident fields, in DESIGN.md §1 order, plus number and resolutionReason.
SEED_FIELDS = (
    "id",
    "number",
    "description",
    "details",
    "severity",
    "assignee",
    "assigneeName",
    "status",
    "resolution",
    "resolutionReason",
    "resolutionComment",
    "source",
    "mitreTactic",
    "mitreTechnique",
    "groupingAllowed",
    "excludeFromSLA",
    "incidentHash",
    "respondedAt",
    "resolvedAt",
    "tags",
    "soarProcessId",
    "soarProcess",
    "soarStatus",
    "soarTimeout",
    "alerts",
    "tenant",
    "tenantId",
    "createdAt",
    "updatedAt",
)


@dataclass(frozen=True, slots=True)
class Mitre:
    """The incident's tactic and technique with their ATT&CK ids and names."""

    tactic: str | None
    tactic_id: str | None
    technique_id: str | None
    technique_name: str | None


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One timeline event in words."""

    at: datetime
    action: str
    actor: str
    changes: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class StepRow:
    """One logged SOAR step."""

    step_id: str
    kind: str
    action: str | None
    outcome: str
    started_at: datetime
    error: str | None
    next_step_id: str | None


@dataclass(frozen=True, slots=True)
class SoarPanel:
    """The incident's current playbook run as the SOAR panel shows it."""

    process_id: uuid.UUID
    process_hash: str
    status: str
    playbook: str
    current_step: str | None
    question: str | None
    options: tuple[str, ...]
    timeout_at: datetime | None
    countdown: str
    error: str | None
    can_cancel: bool
    can_retry: bool
    steps: tuple[StepRow, ...]


def shown(value: Any) -> str:
    """A field value as text: '—' for nothing, yes/no, lists comma-separated, times in UTC."""
    if value is None or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def seed_fields(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, text) for every seed field, in order (`values` uses the API's names)."""
    return [(name, shown(values.get(name))) for name in SEED_FIELDS]


def mitre(tactic: str | None, technique: str | None) -> Mitre:
    """ATT&CK ids and names of the stored tactic (a display name) and technique (an id); a
    value the shipped catalogue no longer knows is shown as stored."""
    try:
        found_tactic_id = tactic_id(tactic) if tactic else None
    except (UnknownTactic, KeyError, ValueError):
        found_tactic_id = None
    try:
        name = technique_name(technique) if technique else None
    except (UnknownTechnique, KeyError, ValueError):
        name = None
    return Mitre(tactic, found_tactic_id, technique, name)


def change_lines(changes: Mapping[str, Any]) -> tuple[str, ...]:
    """`field: before → after` for each change (a single value is shown as is)."""
    lines = []
    for name, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            lines.append(f"{name}: {shown(value[0])} → {shown(value[1])}")
        else:
            lines.append(f"{name}: {shown(value)}")
    return tuple(lines)


def actor_label(actor: str, actor_type: str, names: Mapping[str, str]) -> str:
    """Who did it: a user's name, an API key's name, SOAR or the system."""
    if actor in names:
        return names[actor]
    return {"soar": "SOAR", "system": "muster"}.get(actor_type, actor)


def timeline_rows(events: Sequence[AuditEvent], names: Mapping[str, str]) -> list[TimelineRow]:
    """The timeline, oldest first, in words."""
    return [
        TimelineRow(
            e.created_at,
            e.action,
            actor_label(e.actor, e.actor_type, names),
            change_lines(e.changes or {}),
            e.reason,
        )
        for e in events
    ]


def entity_rows(records: Sequence[EntityRecord]) -> list[tuple[str, str]]:
    """(kind, name) of each entity."""
    return [(record.kind, record.friendly_name) for record in records]


def soar_panel(
    process: SoarProcess,
    playbook: str,
    steps: Sequence[SoarStepLog],
    soar_timeout: datetime | None,
    now: datetime,
) -> SoarPanel:
    """The SOAR panel of a run: a pending question with its options and the time left to
    `soarTimeout`; cancel while active, retry once failed."""
    waiting = process.status == "WAITING_INPUT"
    timeout_at = (soar_timeout or process.timeout_at) if waiting else None
    return SoarPanel(
        process_id=process.id,
        process_hash=process.process_hash,
        status=process.status,
        playbook=playbook,
        current_step=process.current_step_id,
        question=process.current_soar_question if waiting else None,
        options=tuple(process.current_soar_options or ()) if waiting else (),
        timeout_at=timeout_at,
        countdown=countdown_text(timeout_at, now),
        error=process.error,
        can_cancel=process.status in ACTIVE,
        can_retry=process.status == "FAILED",
        steps=tuple(
            StepRow(s.step_id, s.kind, s.action, s.outcome, s.started_at, s.error, s.next_step_id)
            for s in steps
        ),
    )


def resolution_reasons() -> list[tuple[str, tuple[str, ...]]]:
    """(resolution, the reasons allowed with it) for the resolve form's choices."""
    return [(r.value, allowed_reasons(r.value)) for r in Resolution if allowed_reasons(r.value)]


def pretty_raw(raw: Any) -> str:
    """A raw payload as indented JSON (a string payload as it came)."""
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def split_list(text: str) -> list[str]:
    """Comma-, space- or newline-separated words, each once, in order."""
    words = text.replace(",", " ").split()
    return list(dict.fromkeys(words))


def split_tags(text: str) -> list[str]:
    """Comma-separated tags, trimmed, blanks dropped, each once."""
    return list(dict.fromkeys(tag.strip() for tag in text.split(",") if tag.strip()))
