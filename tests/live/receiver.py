"""A webhook receiver on loopback for the live and crash-resume tests: records every POST a
playbook sends; can answer the first request of some idempotency keys with 503, so the step
retries with that key, and can hold the very first request, so its sender can be killed while
it waits for the answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/hook"  # where the receiver takes webhooks; any other path answers 404


@dataclass(frozen=True)
class Hook:
    """One request as the receiver saw it, and how it answered."""

    path: str
    idempotency_key: str  # "" without the header
    body: Any  # the parsed JSON, or the raw text when it is not JSON
    status: int
    at: float  # time.monotonic() on arrival

    @property
    def process_id(self) -> str:
        """The run that sent it (a `send_webhook` step's default body)."""
        return str(self.body["processId"])

    @property
    def step_id(self) -> str:
        """The step that sent it."""
        return str(self.body["stepId"])

    @property
    def incident_id(self) -> str:
        """The incident of the run that sent it."""
        return str(self.body["id"])


class Receiver(ThreadingHTTPServer):
    """Records every POST. On `PATH` it answers 503 to the first request of every
    `fail_first_every`-th new idempotency key (none when 0) and 200 to everything else, and
    holds the first request up to `hold_first_s` seconds (until `release` is set) before
    answering; other paths answer 404."""

    daemon_threads = True

    def __init__(self, fail_first_every: int = 0, hold_first_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _HookHandler)
        self.fail_first_every = fail_first_every
        self.hold_first_s = hold_first_s
        self.lock = threading.Lock()
        self.hooks: list[Hook] = []
        self.failed_keys: set[str] = set()
        self.first = threading.Event()  # the first request to PATH arrived
        self.release = threading.Event()  # let a held request answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}{PATH}"

    def answer(self, path: str, key: str, body: Any) -> tuple[int, bool]:
        """Record a request; the status to answer it with, and whether to hold it first."""
        with self.lock:
            hooks = [hook for hook in self.hooks if hook.path == PATH]
            first = path == PATH and not hooks
            seen = {hook.idempotency_key for hook in hooks}
            every = self.fail_first_every
            fail = path == PATH and bool(every) and key not in seen and len(seen) % every == 0
            if fail:
                self.failed_keys.add(key)
            status = 404 if path != PATH else 503 if fail else 200
            self.hooks.append(Hook(path, key, body, status, time.monotonic()))
        if first:
            self.first.set()
        return status, first and self.hold_first_s > 0

    def received(self) -> list[Hook]:
        """Every request so far, in order of arrival."""
        with self.lock:
            return list(self.hooks)


class _HookHandler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        key = self.headers.get("Idempotency-Key") or ""
        status, hold = self.server.answer(self.path, key, body)
        if hold:
            self.server.release.wait(self.server.hold_first_s)
        answer = b'{"received": true}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:  # the sender (a killed worker) is gone
            pass


@contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve `receiver` on a thread until the block ends (releasing a held request)."""
    thread = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.shutdown()
        receiver.server_close()
        thread.join(5)
