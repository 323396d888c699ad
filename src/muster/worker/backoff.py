"""When a failed job runs again: exponential backoff, capped, giving up after a number of
attempts. Pure (the queue in `muster.worker.jobs` stores the answer as the job's `run_at`)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_attempt_at(
    attempts: int,
    now: datetime,
    *,
    base: timedelta = timedelta(seconds=1),
    cap: timedelta = timedelta(minutes=5),
    max_attempts: int = 8,
) -> datetime | None:
    """When to retry after `attempts` failed attempts: `now + min(cap, base * 2**(attempts-1))`,
    or None (give up) once `attempts >= max_attempts`."""
    if attempts >= max_attempts:
        return None
    exponent = max(attempts, 1) - 1
    delay = cap if exponent >= 32 else min(cap, base * (2**exponent))
    return now + delay
