"""Failed console logins, counted per account and per client address (`muster.auth.lockout`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from muster.db.base import Base, IdMixin


class LoginFailure(IdMixin, Base):
    """One failed login, keyed by a SHA-256 of what it is counted against.

    Deliberately not tenant data: an account or an address is counted before (and whether or
    not) any user or tenant is known. `subject` is a SHA-256 that hides the e-mail typed (or a
    password typed into the e-mail field) and the address; `scope` is `account` or `address`.
    Rows older than the failure window plus the lockout are pruned as new failures are written.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_subject", "subject", "failed_at"),)

    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(index=True)
