"""Benchmark peers on loopback: the webhook receiver playbooks call (the soak's, and
`soar_steps.py`'s slow one), and an SMTP server for the notification mail. Both count what
they got."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession


class Receiver:
    """A loopback webhook receiver that answers 200 after `delay` seconds (default at once)
    and counts what it got."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received = 0
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # `self` is the Receiver
                handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
                if delay:
                    time.sleep(delay)
                with lock:
                    self.received += 1
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"{}")

            def log_message(handler, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the playbook's webhook goes."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/soak-hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()


class MailSink:
    """An SMTP server on loopback (aiosmtpd) that accepts and counts every message."""

    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        """Accept the message."""
        with self.lock:
            self.received += 1
        return "250 OK"

    def env(self) -> dict[str, str]:
        """Settings that send muster's mail here."""
        return {"MUSTER_SMTP_HOST": "127.0.0.1", "MUSTER_SMTP_PORT": str(self.port)}

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()
