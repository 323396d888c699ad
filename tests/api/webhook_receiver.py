"""A real webhook receiver for tests: a loopback `ThreadingHTTPServer` that records every
request and answers each path with scripted statuses (then 200)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> Any:
        """The body parsed."""
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """The server's base URL, what it received and what it will answer."""

    base: str
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self) -> str:
        """A fresh path, so each subscription's requests can be told apart."""
        return f"/hook/{uuid.uuid4().hex[:12]}"

    def url(self, path: str) -> str:
        """The absolute URL of `path`."""
        return self.base + path

    def answer(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with `statuses`, in order (then 200)."""
        with self.lock:
            self.script[path].extend(statuses)

    def at(self, path: str) -> list[Received]:
        """The requests `path` received, in order."""
        with self.lock:
            return [r for r in self.received if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.server.receiver
        with receiver.lock:
            receiver.received.append(
                Received(self.path, dict(self.headers.items()), body, time.monotonic())
            )
            queued = receiver.script.get(self.path)
            status = queued.pop(0) if queued else 200
        reply = b'{"ok": true}' if status < 300 else b"receiver says no"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@contextmanager
def receiving() -> Iterator[Receiver]:
    """Run a receiver on a free loopback port for the block."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
