"""Turn published events into e-mail jobs (assignment, SOAR questions, SLA breaches).

Which events notify people is a pure decision (`notice_of`); `enqueue_mail` writes one
`mail.notify` job per such event in the transaction that raised it, deduplicated by the event
id. Whom to write to, and what, is decided when the job runs (`muster.notify.mail.outgoing`):
by then opt-outs and the incident may have changed, and a retry renders the same message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from muster.models.enums import SOAR_ASSIGNEE
from muster.notify.events import PublishedEvent
from muster.worker.jobs import enqueue

__all__ = ["NOTIFY_JOB", "MailKind", "enqueue_mail", "notice_of"]

NOTIFY_JOB = "mail.notify"


class MailKind(StrEnum):
    """The kinds of notification mail; also the names users opt out of."""

    ASSIGNMENT = "assignment"
    QUESTION = "question"
    SLA = "sla"


def notice_of(event: PublishedEvent) -> dict[str, Any] | None:
    """The payload of the mail job an event calls for, or None when it notifies nobody:
    an assignment to a person, a SOAR question, an SLA breach."""
    row = event.row
    if row.get("subject_type", "incident") != "incident":
        return None
    changes: Mapping[str, Any] = row.get("changes") or {}
    kind: MailKind | None = None
    detail: dict[str, Any] = {}
    if "incident.assigned" in event.types:
        after = _after(changes.get("assignee"))
        if isinstance(after, str) and after and after != SOAR_ASSIGNEE:
            kind, detail = MailKind.ASSIGNMENT, {"assignee": after}
    if kind is None and "soar.waiting_input" in event.types:
        options = changes.get("options") or []
        kind = MailKind.QUESTION
        detail = {"question": str(changes.get("question") or ""), "options": list(options)}
    if kind is None and "sla.breached" in event.types:
        kind = MailKind.SLA
        detail = {"target": str(changes.get("target", "")), "dueAt": _text(changes.get("dueAt"))}
    if kind is None:
        return None
    return {
        "eventId": str(row["id"]),
        "kind": kind.value,
        "incidentId": str(row["subject_id"]),
        "actor": str(row.get("actor") or ""),
        "actorType": str(row.get("actor_type") or ""),
        "at": _text(row.get("created_at")),
        **detail,
    }


def enqueue_mail(session: Session, events: Sequence[PublishedEvent]) -> None:
    """Queue one e-mail job per event that notifies people (once per event id)."""
    for event in events:
        payload = notice_of(event)
        if payload is None:
            continue
        now: datetime = event.row["created_at"]
        enqueue(
            session,
            NOTIFY_JOB,
            payload,
            run_at=now,
            tenant_id=event.row["tenant_id"],
            dedup_key=f"{NOTIFY_JOB}:{payload['eventId']}",
            now=now,
        )


def _after(change: Any) -> Any:
    """The new value of a `[before, after]` change (or the value itself)."""
    if isinstance(change, list | tuple) and len(change) == 2:
        return change[1]
    return change


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
