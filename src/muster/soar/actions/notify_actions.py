"""Telling the outside world: `send_email` (SMTP) and `send_webhook` (HTTP POST of JSON).

Both run outside any transaction and may be repeated after a crash or a retry, so each
carries the step's idempotency key: the e-mail as its Message-ID, the webhook as the
`Idempotency-Key` header. Transient failures (no connection, a timeout, SMTP 4xx, HTTP 5xx,
408, 429) raise `RetryableError`; a permanent refusal (SMTP 5xx, another HTTP 4xx) fails the
step. The webhook follows the HTTP policy of `muster.soar.actions.http_actions` (no
redirects, bounded time and body) and its host allow-list (`soarAllowedHosts`).
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import Field, field_validator
from pydantic_core import to_jsonable_python

from muster.config import Settings
from muster.schema_base import Email, ShortText, Text
from muster.soar.actions.base import Action, ActionContext, RetryableError, register
from muster.soar.actions.camel import CamelInput, CamelOutput
from muster.soar.actions.http_actions import (
    USER_AGENT,
    check_allowed,
    check_url,
    judge,
    send,
    timeout_for,
)

__all__ = ["MailRefused", "SendEmail", "SendWebhook", "message_id", "tagged_subject"]

_DOT_ATOM = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


class MailRefused(Exception):
    """The mail server refused the message for good (a 5xx reply); a retry would not help."""


def message_id(idempotency_key: str, sender: str) -> str:
    """The same Message-ID for the same key: `<soar.KEY@sender-domain>` (KEY hashed if odd)."""
    local = idempotency_key.replace(":", ".")
    if not _DOT_ATOM.fullmatch(local) or len(local) > 120:
        local = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = parseaddr(sender)[1].rpartition("@")[2]
    if not _DOMAIN.fullmatch(domain):
        domain = "muster.localhost"
    return f"<soar.{local}@{domain}>"


def tagged_subject(subject: str, incident_hash: str | None) -> str:
    """`subject` ending in `[#XXXX-XXXX]` unless the tag is already there."""
    if not incident_hash:
        return subject
    tag = f"[#{incident_hash}]"
    return subject if tag.lower() in subject.lower() else f"{subject} {tag}".strip()


class EmailInput(CamelInput):
    """Recipients, a one-line subject and a plain-text body."""

    to: Annotated[list[Email], Field(min_length=1, max_length=50)]
    subject: ShortText
    body: Text

    @field_validator("to", mode="before")
    @classmethod
    def _one_address(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be a single line")
        return value


class EmailOutput(CamelOutput):
    """The Message-ID and subject sent, who accepted it and who refused it."""

    message_id: str
    subject: str
    to: list[str]
    refused: dict[str, str] = Field(description="recipients the server refused, with its reply")


@register
class SendEmail(Action):
    """Send a plain-text e-mail through the configured SMTP server."""

    name = "send_email"
    summary = "Send an e-mail (to, subject, body); the subject carries the incident hash."
    Input = EmailInput
    Output = EmailOutput
    timeout = 60.0

    def run(self, ctx: ActionContext, params: EmailInput) -> EmailOutput:
        """The server accepted the message for at least one recipient, or an error says why."""
        settings = ctx.settings
        incident_hash = ctx.incident.get("incidentHash")
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = ", ".join(params.to)
        message["Subject"] = tagged_subject(params.subject, incident_hash)
        message["Date"] = format_datetime(ctx.now)
        message["Message-ID"] = message_id(ctx.idempotency_key, settings.smtp_from)
        if incident_hash:
            message["X-Muster-Incident"] = str(incident_hash)
        message["X-Muster-Process"] = str(ctx.process_id)
        message.set_content(params.body)
        refused = deliver(settings, message, params.to)
        return EmailOutput(
            message_id=str(message["Message-ID"]),
            subject=str(message["Subject"]),
            to=[address for address in params.to if address not in refused],
            refused=refused,
        )


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


class WebhookInput(CamelInput):
    """Where to POST, extra headers and the JSON body (default: the incident)."""

    url: Annotated[str, Field(min_length=1, max_length=8192)]
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(
        default=None, description="any JSON; default: the incident plus processId and stepId"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)


class WebhookOutput(CamelOutput):
    """The receiver's answer: status and body (parsed JSON or text)."""

    status: int
    body: Any
    truncated: bool


@register
class SendWebhook(Action):
    """POST JSON (by default the incident) to a URL, with the step's `Idempotency-Key`."""

    name = "send_webhook"
    summary = "POST JSON to a URL (default body: the incident, processId, stepId)."
    Input = WebhookInput
    Output = WebhookOutput
    timeout = 30.0

    @classmethod
    def time_limit(cls, settings: Settings) -> float:
        """Bounded by `http_action_timeout_seconds` as well."""
        return min(cls.timeout, settings.http_action_timeout_seconds)

    transport: ClassVar[httpx.BaseTransport | None] = None

    def run(self, ctx: ActionContext, params: WebhookInput) -> WebhookOutput:
        """The receiver answered 2xx, or RetryableError / RequestFailed; like `http_request`,
        only to hosts in the tenant's `soarAllowedHosts` (a playbook must not probe the
        network muster runs in)."""
        check_allowed(params.url, ctx.tenant_settings)
        body = params.body
        if body is None:
            body = {**ctx.incident, "processId": str(ctx.process_id), "stepId": ctx.step_id}
        headers = httpx.Headers({"User-Agent": USER_AGENT})
        headers.update(params.headers)
        headers["Idempotency-Key"] = ctx.idempotency_key
        reply = send(
            "POST",
            params.url,
            timeout=timeout_for(type(self), ctx),
            transport=type(self).transport,
            headers=headers,
            json=to_jsonable_python(body),
        )
        judge("POST", params.url, reply)
        return WebhookOutput(status=reply.status, body=reply.body, truncated=reply.truncated)
