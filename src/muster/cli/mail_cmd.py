"""`muster mail`: the inbound SMTP listener on its own (replies, answers, intake reports)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from muster.cli.main import app, console
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import create_db_engine
from muster.logs import configure_logging
from muster.notify.mail.listener import DEFAULT_LISTEN, MailListener, parse_listen


@app.command()
def mail(
    listen: Annotated[
        str | None,
        typer.Option(
            help=f"host:port to listen on [MUSTER_MAIL_LISTEN, else {DEFAULT_LISTEN}]",
        ),
    ] = None,
) -> None:
    """Receive mail until Ctrl-C or SIGTERM: replies to muster mail become comments or SOAR
    answers; mail to a tenant's intake address opens incidents (docs/email.md)."""
    settings = Settings()
    address = listen or settings.mail_listen or DEFAULT_LISTEN
    try:
        parse_listen(address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--listen") from None
    configure_logging(settings)
    db = create_db_engine(settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    listener = MailListener(db, settings, SystemClock(), address)
    try:
        listener.start()
        console.print(f"muster mail listening on {address}", highlight=False)
        stop.wait()
    finally:
        listener.stop()
        db.dispose()
