"""When failed logins lock an account or a client address out: one pure decision.

A lockout starts when `max_failures` failures fall within `failure_window` of each other and
lasts `lockout` from the last of them. Attempts refused during a lockout are not failures (the
password is not even checked), so a lockout is not prolonged by the attacker it stops; the
next `max_failures` failures after it ends lock again. A successful login clears the
account's failures (not the address's: one valid login must not reset a password sprayer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Scope = Literal["account", "address"]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """How many failures within which window lock for how long (`max_failures` 0: never)."""

    max_failures: int
    failure_window: timedelta
    lockout: timedelta

    @property
    def horizon(self) -> timedelta:
        """How far back failures can still matter."""
        return self.failure_window + self.lockout


@dataclass(frozen=True, slots=True)
class Locked:
    """Logins are refused until `until` because of the failures counted against `scope`."""

    scope: Scope
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the lockout ends (at least 1), for `Retry-After`."""
        return max(1, math.ceil((self.until - now).total_seconds()))


def locked_until(failures: Sequence[datetime], policy: LockoutPolicy) -> datetime | None:
    """The end of the latest lockout these failures (any order) cause, or None."""
    if policy.max_failures <= 0 or len(failures) < policy.max_failures:
        return None
    ordered = sorted(failures)
    reach = policy.max_failures - 1
    ends = [
        ordered[last] + policy.lockout
        for last in range(reach, len(ordered))
        if ordered[last] - ordered[last - reach] <= policy.failure_window
    ]
    return max(ends, default=None)


def decide(
    account_failures: Sequence[datetime],
    address_failures: Sequence[datetime],
    now: datetime,
    account_policy: LockoutPolicy,
    address_policy: LockoutPolicy,
) -> Locked | None:
    """Whether a login may be tried now: None, or the lockout (the later one when both)."""
    checks: tuple[tuple[Scope, Sequence[datetime], LockoutPolicy], ...] = (
        ("account", account_failures, account_policy),
        ("address", address_failures, address_policy),
    )
    found = [
        Locked(scope, until)
        for scope, failures, policy in checks
        if (until := locked_until(failures, policy)) is not None and until > now
    ]
    return max(found, key=lambda locked: locked.until, default=None)
