"""Failed console logins, counted in the database so every API process sees the same counts.

The decision is `muster.auth.lockout.decide`; this module reads the failures it decides over,
writes new ones and clears an account's after a successful login. Accounts are counted by the
e-mail typed, whether or not such a user exists, so a lockout says nothing about who has an
account. Only SHA-256 digests of the e-mail and the address are stored. Services flush, never
commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from muster.auth.lockout import Locked, LockoutPolicy, Scope, decide
from muster.config import Settings
from muster.models import LoginFailure


@dataclass(frozen=True, slots=True)
class LoginPolicies:
    """The account and the address lockout policies."""

    account: LockoutPolicy
    address: LockoutPolicy

    @classmethod
    def of(cls, settings: Settings) -> LoginPolicies:
        """The policies `settings` configure."""
        window = timedelta(minutes=settings.login_failure_window_minutes)
        lockout = timedelta(minutes=settings.login_lockout_minutes)
        return cls(
            LockoutPolicy(settings.login_max_failures, window, lockout),
            LockoutPolicy(settings.login_max_failures_per_address, window, lockout),
        )


@dataclass(frozen=True, slots=True)
class Failures:
    """The recent failures of one login's account and client address."""

    account_subject: str
    address_subject: str | None
    account: list[datetime] = field(default_factory=list)
    address: list[datetime] = field(default_factory=list)

    def locked(self, now: datetime, policies: LoginPolicies) -> Locked | None:
        """The lockout these failures impose at `now`, if any."""
        return decide(self.account, self.address, now, policies.account, policies.address)

    def plus(self, now: datetime) -> Failures:
        """These failures and one more at `now`."""
        address = [*self.address, now] if self.address_subject else self.address
        return Failures(self.account_subject, self.address_subject, [*self.account, now], address)


def subject_of(scope: Scope, value: str) -> str:
    """The stored digest of an account (a normalised e-mail) or a client address."""
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()


def account_of(email: str) -> str:
    """The account an e-mail names, as counted (trimmed, lower case)."""
    return email.strip().lower()


def recent(
    session: Session, email: str, address: str | None, now: datetime, policies: LoginPolicies
) -> Failures:
    """The account's and the address's failures that can still matter at `now` (the address
    is not counted when it is unknown or its limit is off)."""
    account_subject = subject_of("account", account_of(email))
    counted = bool(address) and policies.address.max_failures > 0
    address_subject = subject_of("address", address) if address and counted else None
    subjects = [account_subject] + ([address_subject] if address_subject else [])
    since = now - max(policies.account.horizon, policies.address.horizon)
    rows = session.execute(
        select(LoginFailure.subject, LoginFailure.failed_at).where(
            LoginFailure.subject.in_(subjects), LoginFailure.failed_at > since
        )
    ).all()
    return Failures(
        account_subject,
        address_subject,
        [row.failed_at for row in rows if row.subject == account_subject],
        [row.failed_at for row in rows if row.subject == address_subject],
    )


def record_failure(
    session: Session, failures: Failures, now: datetime, policies: LoginPolicies
) -> None:
    """Write one failure for the account and the address; forget failures too old to matter."""
    rows = [{"scope": "account", "subject": failures.account_subject, "failed_at": now}]
    if failures.address_subject:
        rows.append({"scope": "address", "subject": failures.address_subject, "failed_at": now})
    session.execute(insert(LoginFailure), rows)
    since = now - max(policies.account.horizon, policies.address.horizon)
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= since))


def clear_account(session: Session, failures: Failures) -> None:
    """Forget the account's failures (after a successful login; the address's remain)."""
    session.execute(delete(LoginFailure).where(LoginFailure.subject == failures.account_subject))
