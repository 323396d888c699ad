"""The one SMTP sender: notifications (`muster.notify.mail.outgoing`) and the SOAR `send_email`
action both hand their messages to `deliver`.

A transient failure (no connection, a timeout, an SMTP 4xx reply) raises `RetryableError`; a
permanent refusal (a 5xx reply) raises `MailRefused`. Message-IDs are derived from an
idempotency key, so a message sent again after a crash or a retry threads as the same one.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

from muster.config import Settings
from muster.soar.actions.base import RetryableError

__all__ = [
    "MailRefused",
    "deliver",
    "hash_subject",
    "message_id",
    "one_line",
    "sender_domain",
    "tagged_subject",
]

_DOT_ATOM = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_SUBJECT_CHARS = 200


class MailRefused(Exception):
    """The mail server refused the message for good (a 5xx reply); a retry would not help."""


def sender_domain(sender: str) -> str:
    """The domain of the `From` address (`muster.localhost` when it has none usable)."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain if _DOMAIN.fullmatch(domain) else "muster.localhost"


def message_id(idempotency_key: str, sender: str, prefix: str = "soar") -> str:
    """The same Message-ID for the same key: `<PREFIX.KEY@sender-domain>` (KEY hashed if odd)."""
    local = idempotency_key.replace(":", ".")
    if not _DOT_ATOM.fullmatch(local) or len(local) > 120:
        local = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{prefix}.{local}@{sender_domain(sender)}>"


def tagged_subject(subject: str, incident_hash: str | None) -> str:
    """`subject` ending in `[#XXXX-XXXX]` unless the tag is already there (SOAR's style)."""
    if not incident_hash:
        return subject
    tag = f"[#{incident_hash}]"
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}".strip()


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """`text` on one line: control characters (CR, LF, tabs…) become spaces, runs of spaces
    one, and it is cut to `limit` characters (with an ellipsis)."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def hash_subject(subject: str, incident_hash: str) -> str:
    """The notification subject: `[XXXX-XXXX] subject`, always one line."""
    return one_line(f"[{incident_hash}] {subject}", MAX_SUBJECT_CHARS + 12)


def deliver(settings: Settings, message: EmailMessage, to: list[str]) -> dict[str, str]:
    """Hand `message` to the SMTP server; the refused recipients with the server's reply."""
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            refused = smtp.send_message(
                message, from_addr=parseaddr(settings.smtp_from)[1], to_addrs=to
            )
    except smtplib.SMTPRecipientsRefused as exc:
        replies = {address: _reply(*answer) for address, answer in exc.recipients.items()}
        codes = [code for code, _ in exc.recipients.values()]
        if any(code < 500 for code in codes):
            raise RetryableError(f"{server} refused every recipient for now: {replies}") from exc
        raise MailRefused(f"{server} refused every recipient: {replies}") from exc
    except smtplib.SMTPResponseException as exc:
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if 500 <= exc.smtp_code < 600:
            raise MailRefused(f"{server} refused the message: {reply}") from exc
        raise RetryableError(f"{server} answered {reply}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailRefused(f"{server}: {exc}") from exc
    except OSError as exc:  # no connection, a timeout, a dropped connection (SMTPException too)
        raise RetryableError(f"{server}: {type(exc).__name__}: {exc}") from exc
    return {address: _reply(*answer) for address, answer in refused.items()}


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
