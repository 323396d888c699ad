"""Client threads that post numbered alert batches and record exactly how each was answered.

Batch `b` holds alerts whose `externalId` is `b{b:06d}-{i:05d}`: the id carries the batch
marker, so the database can be read back batch by batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


def external_id(batch: int, index: int) -> str:
    """The `externalId` of alert `index` of `batch`."""
    return f"b{batch:06d}-{index:05d}"


def batch_of(external: str) -> int:
    """The batch an `externalId` made by `external_id` belongs to."""
    return int(external[1:7])


def batch_body(batch: int, size: int) -> dict[str, Any]:
    """A small ingest body: `size` alerts over a few hosts (so they group into incidents)."""
    return {
        "alerts": [
            {
                "ruleName": "crash test",
                "source": "crash",
                "externalId": external_id(batch, i),
                "hostname": f"h{(batch * size + i) % 40}",
                "severity": 1,
            }
            for i in range(size)
        ]
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one POST of one batch ended."""

    batch: int
    status: int | None  # None: no answer (connection refused or reset, timeout)
    content_type: str
    retry_after: str | None
    body: Any
    sent_at: float  # time.monotonic()
    answered_at: float
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        """The server answered 2xx: the batch is committed."""
        return self.status is not None and 200 <= self.status < 300


class Senders:
    """`threads` clients posting the batches `batches` hands out, until it runs dry or `stop()`;
    every outcome is kept. With `retry_pause`, a batch answered 503 is sent again after that
    pause (a client honouring `Retry-After`, sooner), until it is answered otherwise."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        batches: Iterator[int],
        *,
        size: int,
        threads: int,
        timeout: float,
        retry_pause: float | None = None,
    ) -> None:
        self.base_url = base_url
        self.headers = headers
        self.size = size
        self.timeout = timeout
        self.retry_pause = retry_pause
        self._batches = batches
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._outcomes: list[Outcome] = []
        self._in_flight: set[int] = set()
        self._threads = [
            threading.Thread(target=self._send, name=f"sender-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> Senders:
        """Start the client threads."""
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> set[int]:
        """Send no further batch; return the batches in flight at this moment."""
        with self._lock:
            self._stop.set()
            return set(self._in_flight)

    def join(self, timeout: float) -> None:
        """Wait for the threads to finish (fail if one hangs)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            assert not thread.is_alive(), f"{thread.name} still waits for an answer"

    def outcomes(self) -> list[Outcome]:
        """Every outcome so far, in the order they ended."""
        with self._lock:
            return list(self._outcomes)

    def acknowledged(self) -> set[int]:
        """The batches that got a 2xx."""
        return {o.batch for o in self.outcomes() if o.acknowledged}

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set():
                return None
            batch = next(self._batches, None)
            if batch is not None:
                self._in_flight.add(batch)
            return batch

    def _send(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers) as http:
            while (batch := self._take()) is not None:
                while True:
                    outcome = post_batch(http, batch, self.size, self.timeout)
                    with self._lock:
                        self._outcomes.append(outcome)
                    if outcome.status != 503 or self.retry_pause is None:
                        break
                    if self._stop.wait(self.retry_pause):
                        break
                with self._lock:
                    self._in_flight.discard(batch)


def post_batch(http: httpx.Client, batch: int, size: int, timeout: float) -> Outcome:
    """POST one batch and record how it ended."""
    sent = time.monotonic()
    try:
        answer = http.post("/api/v1/alerts", json=batch_body(batch, size), timeout=timeout)
    except httpx.TransportError as exc:
        return Outcome(batch, None, "", None, None, sent, time.monotonic(), repr(exc))
    try:
        body: Any = answer.json()
    except ValueError:
        body = answer.text
    return Outcome(
        batch,
        answer.status_code,
        answer.headers.get("content-type", ""),
        answer.headers.get("retry-after"),
        body,
        sent,
        time.monotonic(),
    )
