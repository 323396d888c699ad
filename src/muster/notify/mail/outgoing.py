"""The worker's e-mail handler: render the message for an event and send it over SMTP.

A `mail.notify` job (`muster.notify.mail.fanout`) is handled in three steps: read what the
message needs in a read-only tenant transaction (`draft`), send it outside any transaction,
then complete the job. A crash between sending and completing sends the message again with the
same Message-ID, which mail clients show once. A transient SMTP failure (no connection, 4xx)
raises, so the worker retries with backoff; a permanent refusal (5xx) is logged, counted and
not retried. Results are counted in `muster_emails{direction="out"}`: sent, refused, failed
(will be retried), skipped (nobody to write to).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import structlog
from sqlalchemy.orm import Session

from muster import telemetry
from muster.clock import Clock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models import Incident, SoarProcess, Tenant
from muster.models.enums import SOAR_ASSIGNEE
from muster.notify.mail.fanout import NOTIFY_JOB
from muster.notify.mail.people import actor_display, tenant_people
from muster.notify.mail.recipients import Recipients, choose
from muster.notify.mail.render import Rendered, greeting, incident_context, render, when
from muster.notify.mail.smtp import MailRefused, deliver, message_id, sender_domain
from muster.soar.actions.base import RetryableError
from muster.worker.jobs import ClaimedJob, LeaseLost, complete
from muster.worker.loop import Handler

__all__ = ["Draft", "build_message", "draft", "handlers"]

log = structlog.get_logger("muster.mail")


@dataclass(slots=True)
class Draft:
    """The message to send and its recipients, or why there is none."""

    message: EmailMessage | None
    recipients: Recipients = field(default_factory=lambda: Recipients(()))
    why_not: str | None = None


def handlers(db: Database, settings: Settings, clock: Clock) -> dict[str, Handler]:
    """E-mail job handlers by job kind."""

    def notify(job: ClaimedJob, now: datetime) -> None:
        assert job.tenant_id is not None
        with unit_of_work(db, TenantContext(job.tenant_id)) as session:
            prepared = draft(session, job.payload, settings, now)
        bound = log.bind(job_id=str(job.id), event=job.payload.get("eventId"))
        result = "skipped"
        if prepared.message is not None:
            result = _send(settings, prepared, bound)
        else:
            bound.info("mail_skipped", why=prepared.why_not, left_out=prepared.recipients.skipped)
        with unit_of_work(db, TenantContext(job.tenant_id), write=True) as session:
            if not complete(session, job.id, job.locked_by, now=clock.now()):
                raise LeaseLost(job.id)
        telemetry.EMAILS.labels(direction="out", result=result).inc()

    return {NOTIFY_JOB: notify}


def _send(settings: Settings, prepared: Draft, bound: Any) -> str:
    """Deliver the draft; `sent` or `refused` (a retryable failure raises)."""
    assert prepared.message is not None
    to = prepared.recipients.addresses
    try:
        refused = deliver(settings, prepared.message, to)
    except MailRefused as exc:
        bound.warning("mail_refused", to=to, error=str(exc))
        return "refused"
    except RetryableError as exc:
        telemetry.EMAILS.labels(direction="out", result="failed").inc()
        bound.warning("mail_failed", to=to, error=str(exc))
        raise
    bound.info(
        "mail_sent",
        to=[address for address in to if address not in refused],
        refused=refused,
        left_out=prepared.recipients.skipped,
        subject=str(prepared.message["Subject"]),
    )
    return "sent"


def draft(session: Session, payload: Mapping[str, Any], settings: Settings, now: datetime) -> Draft:
    """The message a `mail.notify` job sends now, or why it sends none (the incident is gone,
    the question was answered meanwhile, nobody left to write to)."""
    incident = session.get(Incident, uuid.UUID(str(payload["incidentId"])))
    if incident is None:
        return Draft(None, why_not="the incident no longer exists")
    kind = str(payload["kind"])
    gather = _GATHER.get(kind)
    if gather is None:
        return Draft(None, why_not=f"unknown mail kind {kind!r}")
    parts = gather(session, incident, payload)
    if isinstance(parts, str):
        return Draft(None, why_not=parts)
    people = tenant_people(session, [address for address in parts.named if address])
    recipients = choose(kind, parts.named, people, actor_email=parts.actor_email)
    if not recipients.to:
        return Draft(None, recipients, why_not="nobody to write to")
    tenant = session.get(Tenant, incident.tenant_id)
    context = {
        "incident": incident_context(_incident_fields(incident), settings.public_url),
        "tenant": tenant.name if tenant else "muster",
        "greeting": greeting([person.name for person in recipients.to]),
        **parts.values,
    }
    message = build_message(settings, render(kind, context), recipients, incident, payload, now)
    return Draft(message, recipients)


@dataclass(slots=True)
class _Parts:
    """What one kind of mail needs: whom it names, its template values, who acted."""

    named: list[str | None]
    values: dict[str, Any]
    actor_email: str | None = None


def _assignment(session: Session, incident: Incident, payload: Mapping[str, Any]) -> _Parts:
    actor, actor_email = actor_display(
        session, str(payload.get("actorType")), str(payload.get("actor"))
    )
    return _Parts([payload.get("assignee")], {"actor": actor}, actor_email)


def _question(session: Session, incident: Incident, payload: Mapping[str, Any]) -> _Parts | str:
    process = (
        session.get(SoarProcess, incident.soar_process_id) if incident.soar_process_id else None
    )
    if (
        process is None
        or process.status != "WAITING_INPUT"
        or process.current_soar_question != payload.get("question")
    ):
        return "the question is no longer waiting for an answer"
    asked = process.current_soar_asked or {}
    named = [asked.get("email")] if asked.get("to") in ("assignee", "email") else []
    values = {
        "question": payload.get("question") or "",
        "options": list(process.current_soar_options or []),
        "timeout_at": when(process.timeout_at),
    }
    return _Parts(named, values)


def _sla(session: Session, incident: Incident, payload: Mapping[str, Any]) -> _Parts:
    assignee = incident.assignee if incident.assignee != SOAR_ASSIGNEE else None
    values = {
        "target": payload.get("target") or "resolution",
        "due_at": when(payload.get("dueAt")),
        "unassigned": assignee is None,
    }
    return _Parts([assignee], values)


_GATHER: dict[str, Callable[[Session, Incident, Mapping[str, Any]], _Parts | str]] = {
    "assignment": _assignment,
    "question": _question,
    "sla": _sla,
}


def build_message(
    settings: Settings,
    rendered: Rendered,
    recipients: Recipients,
    incident: Incident,
    payload: Mapping[str, Any],
    now: datetime,
) -> EmailMessage:
    """The message: one per event (the same Message-ID on every attempt), threaded per
    incident (`References`), marked as automatic so auto-responders stay quiet."""
    domain = sender_domain(settings.smtp_from)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(formataddr((p.name, p.email)) for p in recipients.to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(
        f"{payload['kind']}.{payload['eventId']}", settings.smtp_from, prefix="muster"
    )
    message["References"] = f"<incident.{incident.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Muster-Incident"] = incident.incident_hash
    message["X-Muster-Kind"] = str(payload["kind"])
    message.set_content(rendered.body)
    return message


def _incident_fields(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "incidentHash": incident.incident_hash,
        "number": incident.number,
        "description": incident.description,
        "details": incident.details,
        "severity": incident.severity,
        "status": incident.status,
        "assignee": incident.assignee,
        "assigneeName": incident.assignee_name,
        "source": incident.source,
        "createdAt": incident.created_at,
    }
