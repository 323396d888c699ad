"""What happens after a delivery attempt: the delivery's new state, when to retry, whether the
subscription must be disabled. Pure: plain values and an explicit `now`.

- 2xx: delivered; the subscription's consecutive failures go back to 0.
- Anything else (another status, a timeout, a connection error, a refused address): the attempt
  failed. The next one runs `retry_delay(attempt)` later (base * 2**(attempt-1), at most 1 h)
  until `max_attempts`, then the delivery is failed.
- After `disable_after` consecutive failed attempts (across the subscription's deliveries), or
  at once when the receiver answers 410 Gone, the subscription is disabled and its pending
  deliveries are failed.
- A test delivery (`ping`) is tried once and never changes the subscription's health.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AttemptResult", "Verdict", "after_attempt", "log_entry", "retry_delay"]

MAX_DELAY = timedelta(hours=1)
DELIVERED, PENDING, FAILED = "delivered", "pending", "failed"
GONE = 410


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one POST went: the status (None when no answer), or why there was none."""

    status_code: int | None
    error: str | None
    duration_ms: int
    address: str | None = None  # the IP address connected to
    refused: bool = False  # the target's address is not allowed: nothing was sent

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def outcome(self) -> str:
        """`delivered`, `failed` or `refused` (the telemetry label)."""
        return "delivered" if self.ok else "refused" if self.refused else "failed"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The delivery's state after an attempt, and what else follows from it."""

    state: str
    retry_at: datetime | None
    disable_reason: str | None


def retry_delay(attempt: int, base: timedelta) -> timedelta:
    """The pause after failed attempt number `attempt` (1-based): base * 2**(attempt-1) <= 1 h."""
    exponent = max(attempt, 1) - 1
    if exponent >= 32:
        return MAX_DELAY
    delay: timedelta = base * (2**exponent)
    return min(MAX_DELAY, delay)


def log_entry(attempt: int, at: datetime, result: AttemptResult) -> dict[str, Any]:
    """One entry of a delivery's log (JSON names)."""
    return {
        "attempt": attempt,
        "at": at.isoformat().replace("+00:00", "Z"),
        "statusCode": result.status_code,
        "error": result.error,
        "durationMs": result.duration_ms,
        "address": result.address,
    }


def after_attempt(
    attempt: int,
    result: AttemptResult,
    failures: int,
    now: datetime,
    *,
    max_attempts: int,
    retry_base: timedelta,
    disable_after: int,
    is_test: bool = False,
) -> Verdict:
    """The verdict on attempt number `attempt`; `failures` is the subscription's count of
    consecutive failed attempts including this one (0 after a success)."""
    if result.ok:
        return Verdict(DELIVERED, None, None)
    disable = None
    if not is_test:
        if result.status_code == GONE:
            disable = "the receiver answered 410 Gone"
        elif failures >= disable_after:
            disable = f"{failures} consecutive failed delivery attempts"
    if disable is not None or is_test or attempt >= max_attempts:
        return Verdict(FAILED, None, disable)
    return Verdict(PENDING, now + retry_delay(attempt, retry_base), None)
