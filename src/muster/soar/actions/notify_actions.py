"""Telling the outside world: `send_email` (SMTP) and `send_webhook` (HTTP POST of JSON).

Both run outside any transaction and may be repeated after a crash or a retry, so each
carries the step's idempotency key: the e-mail as its Message-ID, the webhook as the
`Idempotency-Key` header. The e-mail goes through muster's one SMTP sender
(`muster.notify.mail.smtp.deliver`). Transient failures (no connection, a timeout, SMTP 4xx,
HTTP 5xx, 408, 429) raise `RetryableError`; a permanent refusal (SMTP 5xx, another HTTP 4xx)
fails the step. The webhook follows the HTTP policy of `muster.soar.actions.http_actions` (no
redirects, bounded time and body) and its host allow-list (`soarAllowedHosts`).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import Field, field_validator
from pydantic_core import to_jsonable_python

from muster.config import Settings
from muster.notify.mail.smtp import MailRefused, deliver, message_id, tagged_subject
from muster.schema_base import Email, ShortText, Text
from muster.soar.actions.base import Action, ActionContext, register
from muster.soar.actions.camel import CamelInput, CamelOutput
from muster.soar.actions.http_actions import (
    USER_AGENT,
    check_allowed,
    check_url,
    judge,
    send,
    timeout_for,
)

__all__ = ["MailRefused", "SendEmail", "SendWebhook", "deliver", "message_id", "tagged_subject"]


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
