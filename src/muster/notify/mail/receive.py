"""What muster does with one inbound message, and the SMTP reply it gives.

In order:

1. Malformed MIME or no usable From: `554 5.6.0`.
2. Automatic messages (auto-replies, bounces with an empty envelope sender, delivery reports,
   list traffic) are accepted and dropped (`250`), so an out-of-office never becomes a comment.
3. The subject carries the hash of an existing incident (`[K7Q2-M4XP]`, any common typing):
   a reply. The sender (From) must be an active member of the incident's tenant (or a global
   admin), else `550 5.7.1`. The reply answers the waiting SOAR question or becomes a comment
   by that user (`muster.notify.mail.replies`); a reply that cannot be used (an option that
   does not exist, a question that closed) is refused with `550 5.7.1` and the reason, which
   the sender's mail server returns to them.
4. Otherwise a recipient is a tenant's intake address: the message becomes an alert and may
   start an `email` playbook (`muster.notify.mail.intake`); a sender outside the tenant's
   `emailIntakeSenders` is refused `550 5.7.1`.
5. Anything else: `550 5.1.1` (no incident, no intake address).

A suspended tenant refuses mail (`550 5.7.1`). Every refusal is logged; results are counted in
`muster_emails{direction="in"}` (accepted, refused, ignored). An unexpected error answers
`451 4.3.0` (the listener, `muster.notify.mail.listener`), so the sender retries later.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select

from muster import telemetry
from muster.auth.service import suspension_reason
from muster.clock import Clock
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import DomainError
from muster.incidents.comments import add_comment
from muster.incidents.service import get_by_hash
from muster.models import Incident, Tenant
from muster.notify.mail.inbound import Inbound, Malformed, incident_hashes, parse
from muster.notify.mail.intake import receive_report
from muster.notify.mail.people import member, user_actor
from muster.notify.mail.replies import AddComment, Answer, Refuse, decide_reply
from muster.soar.service import answer, current_process
from muster.tenants.intake import IntakeTarget, intake_targets, sender_allowed

__all__ = ["Reply", "receive"]

log = structlog.get_logger("muster.mail")


@dataclass(frozen=True, slots=True)
class Reply:
    """The SMTP reply to a message, and how it is counted (accepted, refused, ignored)."""

    code: int
    text: str
    result: str

    @property
    def line(self) -> str:
        """The reply as the SMTP server sends it."""
        return f"{self.code} {self.text}"


class Refused(Exception):
    """The message is refused; `reply` says why."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.reply = Reply(code, text, "refused")


def receive(db: Database, clock: Clock, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Reply:
    """Handle one message; the SMTP reply (unexpected errors raise, for a 451)."""
    bound = log.bind(mail_from=mail_from, rcpt_tos=rcpt_tos, size=len(raw))
    try:
        reply = _receive(db, clock.now(), mail_from, rcpt_tos, raw)
    except Refused as exc:
        reply = exc.reply
    if reply.result == "refused":
        bound.warning("mail_refused", reply=reply.line)
    else:
        bound.info("mail_received", reply=reply.line)
    telemetry.EMAILS.labels(direction="in", result=reply.result).inc()
    return reply


def _receive(db: Database, now: datetime, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Reply:
    try:
        message = parse(raw)
    except Malformed as exc:
        raise Refused(554, f"5.6.0 malformed message: {exc}") from None
    if message.automatic or not mail_from.strip("<> "):
        return Reply(250, "2.0.0 automatic message ignored", "ignored")
    hashes = incident_hashes(message.subject)
    for incident_hash in hashes:
        found = _incident_tenant(db, incident_hash, now)
        if found is not None:
            return _reply_to_incident(db, found, incident_hash, message, now)
    with unit_of_work(db, SystemContext()) as session:
        targets = intake_targets(session, rcpt_tos)
    if targets:
        return _intake(db, targets, message, now)
    if hashes:
        raise Refused(550, f"5.1.1 no incident [{hashes[0]}] here, and no intake address")
    raise Refused(
        550,
        "5.1.1 no such recipient: this server takes replies to muster mail (keep "
        "[XXXX-XXXX] in the subject) and mail to a tenant's intake address",
    )


def _incident_tenant(db: Database, incident_hash: str, now: datetime) -> uuid.UUID | None:
    """The tenant of the incident with this hash (hashes are unique across tenants)."""
    with unit_of_work(db, SystemContext()) as session:
        row = session.execute(
            select(Incident.tenant_id, Tenant.suspended, Tenant.eval_expires_at)
            .join(Tenant, Tenant.id == Incident.tenant_id)
            .where(Incident.incident_hash == incident_hash)
        ).first()
    if row is None:
        return None
    if suspension_reason(row.suspended, row.eval_expires_at, now):
        raise Refused(550, "5.7.1 the incident's tenant is suspended")
    tenant_id: uuid.UUID = row.tenant_id
    return tenant_id


def _reply_to_incident(
    db: Database, tenant_id: uuid.UUID, incident_hash: str, message: Inbound, now: datetime
) -> Reply:
    """A reply by a member: the answer to the waiting question, or a comment."""
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        found = member(session, message.sender)
        if found is None:
            raise Refused(
                550, f"5.7.1 {message.sender} is not a member of the tenant of [{incident_hash}]"
            )
        actor = user_actor(found[0])
        incident = get_by_hash(session, incident_hash)
        process = current_process(session, incident)
        waiting = process is not None and process.status == "WAITING_INPUT"
        options = list(process.current_soar_options or []) if waiting and process else None
        decision = decide_reply(message.text, options)
        if isinstance(decision, Refuse):
            raise Refused(550, f"5.7.1 [{incident_hash}]: {decision.reason}")
        try:
            if isinstance(decision, Answer):
                answer(session, incident.id, decision.value, actor, now)
                if decision.rest:
                    add_comment(session, incident.id, decision.rest, actor, now)
                done = f"answered {decision.value!r}"
            else:
                assert isinstance(decision, AddComment)
                add_comment(session, incident.id, decision.body, actor, now)
                done = "comment added"
        except DomainError as exc:  # the question closed or the answer is not an option
            raise Refused(550, f"5.7.1 [{incident_hash}]: {exc.detail}") from None
    return Reply(250, f"2.0.0 [{incident_hash}] {done}", "accepted")


def _intake(db: Database, targets: list[IntakeTarget], message: Inbound, now: datetime) -> Reply:
    """A report to one or more tenants' intake addresses: an alert (and incident) in each."""
    for target in targets:
        if suspension_reason(target.suspended, target.eval_expires_at, now):
            raise Refused(550, f"5.7.1 {target.address}: the tenant is suspended")
        if not sender_allowed(message.sender, target.senders):
            raise Refused(550, f"5.7.1 {message.sender} may not send to {target.address}")
    done: list[str] = []
    for target in targets:
        with unit_of_work(db, TenantContext(target.tenant_id), write=True) as session:
            item, opened = receive_report(session, message, target.address, now)
        if item.duplicate:
            done.append(f"already received as [{item.incident_hash}]")
        elif opened:
            done.append(f"incident [{item.incident_hash}] opened")
        else:
            done.append(f"added to incident [{item.incident_hash}]")
    return Reply(250, "2.0.0 " + "; ".join(done), "accepted")
