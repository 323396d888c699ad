"""The inbound SMTP listener (aiosmtpd): `muster mail`, or inside `muster serve` when
`MUSTER_MAIL_LISTEN` (settings.mail_listen) is `host:port`.

The listener runs its own asyncio loop in a thread; each message is handled on a worker thread
(`muster.notify.mail.receive`), so database work never blocks the SMTP conversation of other
clients. Messages over `mail_max_bytes` are refused by aiosmtpd itself (`552`, also when the
client announces the size in `MAIL FROM`); at most `MAX_RECIPIENTS` recipients per message
(`452` beyond). Whatever happens while handling a message, the listener answers (an unexpected
error is a `451`, logged) and keeps serving.

It takes mail for muster only: it is not a relay, does no SPF/DKIM/DMARC checks and offers no
TLS. Run it behind the organisation's mail gateway, which delivers the reply address
(`MUSTER_SMTP_FROM`) and the tenants' intake addresses to it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from muster import telemetry
from muster.clock import Clock
from muster.config import Settings
from muster.db.engine import Database
from muster.notify.mail.receive import Reply, receive
from muster.notify.mail.smtp import sender_domain

__all__ = ["DEFAULT_LISTEN", "MAX_RECIPIENTS", "MailListener", "parse_listen"]

DEFAULT_LISTEN = "127.0.0.1:2525"
MAX_RECIPIENTS = 50
TEMPORARY_FAILURE = "451 4.3.0 muster could not handle the message now; try again later"

log = structlog.get_logger("muster.mail")

Receiver = Callable[[str, list[str], bytes], Reply]


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`[::1]:2525` for IPv6) as (host, port); ValueError when malformed."""
    host, sep, port = listen.strip().rpartition(":")
    host = host.strip().removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"mail listen address must be host:port, not {listen!r}")
    return host, int(port)


class InboundHandler:
    """aiosmtpd hooks: bounded recipients, and each message handed to `receive` on a thread."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Take up to `MAX_RECIPIENTS` recipients; which ones matter is decided at DATA."""
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return f"452 4.5.3 at most {MAX_RECIPIENTS} recipients per message"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """The reply to the message: accepted, refused with a reason, or 451 on an error."""
        raw = envelope.original_content or envelope.content or b""
        content = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(
                None, self.receiver, envelope.mail_from or "", list(envelope.rcpt_tos), content
            )
        except Exception:
            log.exception(
                "mail_receive_failed", mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos
            )
            telemetry.EMAILS.labels(direction="in", result="failed").inc()
            return TEMPORARY_FAILURE
        return reply.line


class _Server(SMTP):
    """aiosmtpd's SMTP server, logging and counting the refusals it makes by itself."""

    async def push(self, status: Any) -> None:
        text = status.decode(errors="replace") if isinstance(status, bytes) else str(status)
        if text.startswith(("552 ", "500 Line too long")):
            peer = self.session.peer if self.session else None
            log.warning("mail_refused", reply=text, peer=str(peer))
            telemetry.EMAILS.labels(direction="in", result="refused").inc()
        await super().push(status)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


class MailListener:
    """The listener on `listen` (default: settings.mail_listen); `start()`, then `stop()`."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, listen: str | None = None
    ) -> None:
        self.host, self.port = parse_listen(listen or settings.mail_listen or DEFAULT_LISTEN)

        def receiver(mail_from: str, rcpt_tos: list[str], raw: bytes) -> Reply:
            return receive(db, clock, mail_from, rcpt_tos, raw)

        self._controller = _Controller(
            InboundHandler(receiver),
            hostname=self.host,
            port=self.port,
            data_size_limit=settings.mail_max_bytes,
            server_hostname=sender_domain(settings.smtp_from),
            ident="muster",
        )
        self._running = False

    def start(self) -> MailListener:
        """Listen (OSError at once when the address is taken)."""
        _check_free(self.host, self.port)
        self._controller.start()
        self._running = True
        log.info("mail_listening", host=self.host, port=self.port)
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._running:
            self._controller.stop()
            self._running = False


def _check_free(host: str, port: int) -> None:
    """Raise OSError when (host, port) cannot be bound (aiosmtpd would only time out)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def start_listener(db: Database, settings: Settings, clock: Clock) -> MailListener | None:
    """The listener `muster serve` runs when settings.mail_listen is set; None (logged) when
    its address is taken, e.g. by another API process of the same `serve --workers N`."""
    if not settings.mail_listen:
        return None
    try:
        return MailListener(db, settings, clock).start()
    except OSError as exc:
        log.error("mail_listener_not_started", listen=settings.mail_listen, error=str(exc))
        return None
