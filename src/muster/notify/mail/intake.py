"""Messages to a tenant's intake address: an alert of source `email` through the normal ingest
path, and the tenant's `email`-triggered playbook on the incident it opens.

The alert (`alert_payload`, pure) is titled `Reported e-mail: <subject>` and keeps the message
as evidence in `raw.email`: the headers, the text body, and every attachment's name, type,
size and SHA-256 (a forwarded message also with its From, Subject, Date and Message-ID). Its
`externalId` is the Message-ID, so the same message delivered twice is stored once. The
sender, the URLs in the text and the attachments are its entities.

When the alert opens an incident, the tenant's enabled `email` playbooks are tried by weight
(`muster.playbooks.selection`, the same rule as for `incident` playbooks) and the first whose
criteria match runs. It takes precedence over an `incident` playbook that ingest selected for
the same new incident: that run is cancelled before it starts, and the timeline says why. An
alert grouped into an existing incident starts nothing (the incident is already handled).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from muster import telemetry
from muster.alerts.ingest import IngestedAlert, ingest
from muster.incidents.lifecycle import SOAR, Actor
from muster.incidents.service import get_incident
from muster.incidents.timeline import record
from muster.notify.mail.inbound import Attachment, Inbound
from muster.notify.mail.smtp import one_line
from muster.playbooks import selection
from muster.playbooks.service import enabled_for_trigger
from muster.soar.service import cancel, create_process_for, current_process
from muster.soar.transitions import ACTIVE
from muster.soar.views import IncidentView

__all__ = ["INTAKE_SEVERITY", "alert_payload", "receive_report", "start_email_playbook"]

INTAKE_SEVERITY = 2  # Low: a report to triage; playbooks raise it
MAX_BODY_CHARS = 65_536
MAX_DESCRIPTION_CHARS = 4000
_FORWARD = re.compile(r"^\s*((fwd?|fw|wg|tr|rv)\s*:\s*)+", re.IGNORECASE)


def intake_actor(sender: str) -> Actor:
    """Who opens incidents from mail: the intake, naming the sender (not a human response)."""
    return Actor("system", "email-intake", f"e-mail intake (from {sender})")


def receive_report(
    session: Session, message: Inbound, address: str, now: datetime
) -> tuple[IngestedAlert, bool]:
    """Ingest the message as an alert in the session's tenant and start the email playbook
    on the incident it opens; the alert and whether it opened an incident."""
    report = ingest(session, [alert_payload(message, address)], intake_actor(message.sender), now)
    telemetry.count_ingested(len(report.items) - report.duplicates, report.duplicates, session)
    item = report.items[0]
    opened = item.incident_id is not None and item.incident_id in report.opened
    if opened:
        assert item.incident_id is not None
        start_email_playbook(session, item.incident_id, message.sender, now)
    return item, opened


def start_email_playbook(session: Session, incident_id: Any, sender: str, now: datetime) -> bool:
    """Queue the first matching enabled `email` playbook on the incident; whether one runs."""
    playbooks = enabled_for_trigger(session, "email", now)
    if not playbooks:
        return False
    incident = get_incident(session, incident_id)
    wants_alerts = any("alerts." in (playbook.criteria or "") for playbook, _ in playbooks)
    view = IncidentView(session, incident).for_condition({}, wants_alerts)
    candidates = [
        selection.Candidate(p.name, p.weight, predicate, p.id, p.criteria)
        for p, predicate in playbooks
    ]
    chosen = selection.select(candidates, view, now, trigger="email")
    if chosen.playbook_id is None:
        record(session, incident.id, "soar.not_selected", SOAR, now, reason=chosen.reason)
        return False
    playbook = next(p for p, _ in playbooks if p.id == chosen.playbook_id)
    active = current_process(session, incident)
    if active is not None and active.status in ACTIVE:
        why = Actor(
            "system",
            "email-intake",
            f"e-mail intake: the email playbook {playbook.name!r} runs instead",
        )
        cancel(session, active.id, why, now)
    create_process_for(
        session,
        incident,
        playbook,
        trigger="email",
        started_by=f"e-mail from {sender}",
        now=now,
        reason=chosen.reason,
    )
    return True


def alert_payload(message: Inbound, address: str) -> dict[str, Any]:
    """The alert a reported message becomes (API field names; `email` is kept in raw)."""
    subject = _FORWARD.sub("", message.subject).strip() or "(no subject)"
    entities: list[dict[str, Any]] = [{"type": "mailbox", "value": message.sender}]
    entities += [{"type": "url", "value": url} for url in message.urls]
    for attachment in message.attachments:
        entities.append({"type": "file", "value": attachment.name})
        entities.append({"type": "filehash", "value": attachment.sha256, "algorithm": "SHA256"})
    text = message.text.strip()
    payload: dict[str, Any] = {
        "source": "email",
        "ruleName": one_line(f"Reported e-mail: {subject}"),
        "category": "Email",
        "severity": INTAKE_SEVERITY,
        "description": _cut(f"From {message.sender} to {address}\n\n{text}", MAX_DESCRIPTION_CHARS),
        "username": message.sender,
        "entities": entities,
        "email": {
            "from": message.sender,
            "fromName": message.sender_name,
            "to": list(message.to),
            "recipient": address,
            "subject": message.subject,
            "messageId": message.message_id,
            "date": message.date,
            "headers": [[name, value] for name, value in message.headers],
            "body": _cut(text, MAX_BODY_CHARS),
            "attachments": [_attachment(a) for a in message.attachments],
        },
    }
    if message.message_id:
        payload["externalId"] = message.message_id[:512]
    cleaned: dict[str, Any] = _clean(payload)
    return cleaned


def _attachment(attachment: Attachment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }
    if attachment.message:
        out["message"] = dict(attachment.message)
    return out


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(value: Any) -> Any:
    """No NUL characters anywhere (no database stores them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, Mapping):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value
