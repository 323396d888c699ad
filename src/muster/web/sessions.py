"""Web console sessions: log in (argon2), find the session of a cookie, switch tenant, log out.

The cookie carries a random token; the database keeps only its SHA-256 (`WebSession`), so a
leaked table does not log anyone in. Every login creates a new session (and ends the one the
browser presented), so a token planted before login is worthless; switching tenant issues a
new token too. A session ends after `session_idle_minutes` without use; its expiry slides
forward as it is used, written at most once a minute. `attempt_login` adds the lockout
(`muster.auth.lockout`): failures are counted per account and per client address, and a
locked account gets the same answer as a wrong password (with a `retry_after`). Services
flush, never commit.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.auth import login_throttle
from muster.auth.lockout import Locked
from muster.auth.login_throttle import LoginPolicies, account_of
from muster.auth.passwords import hash_password, verify_password
from muster.auth.service import suspension_reason
from muster.errors import Forbidden, NotFound, Unauthenticated
from muster.incidents.lifecycle import SYSTEM
from muster.models import Membership, Tenant, User, WebSession

COOKIE = "muster_session"
LOGIN_FAILED = "wrong e-mail or password"
TOUCH_EVERY = timedelta(minutes=1)
# verified against when the e-mail is unknown, so both failures take as long
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))
log = structlog.get_logger("muster.web.sessions")


def hash_token(token: str) -> str:
    """The stored form of a session token (SHA-256, hex): tokens are random, so no salt."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TenantChoice:
    """A tenant the user may act in, with their role and why it is closed (None: open)."""

    id: uuid.UUID
    name: str
    role: str
    closed: str | None


@dataclass(frozen=True, slots=True)
class Login:
    """A session just created: the token for the cookie (shown once) and the stored row."""

    token: str
    session: WebSession


@dataclass(frozen=True, slots=True)
class Refused:
    """A login refused with `LOGIN_FAILED`; `retry_after` (seconds) when it was refused
    because the account or the client address is locked out."""

    retry_after: int | None = None


def attempt_login(
    session: Session,
    email: str,
    password: str,
    now: datetime,
    idle: timedelta,
    *,
    address: str | None,
    policies: LoginPolicies,
    presented: str | None = None,
) -> Login | Refused:
    """Log in unless the account or the address is locked out. A failure is counted (and a
    lockout it starts is audited) and returned, not raised, so the count is committed; a
    success clears the account's failures and ends the session the browser `presented`.
    A right password with no open tenant still raises `Forbidden`."""
    failures = login_throttle.recent(session, email, address, now, policies)
    locked = failures.locked(now, policies)
    if locked is not None:
        return Refused(locked.retry_after(now))
    try:
        created = login(session, email, password, now, idle)
    except Unauthenticated:
        login_throttle.record_failure(session, failures, now, policies)
        locked = failures.plus(now).locked(now, policies)
        if locked is None:
            return Refused()
        _audit_lockout(session, email, address, locked, now)
        return Refused(locked.retry_after(now))
    login_throttle.clear_account(session, failures)
    if presented:
        end(session, presented)
    return created


def _audit_lockout(
    session: Session, email: str, address: str | None, locked: Locked, now: datetime
) -> None:
    """A lockout starts: one event in the global log (the account may be in many tenants, or
    none), naming the user only when there is one."""
    user_id = session.scalar(select(User.id).where(User.email == account_of(email)))
    on_account = locked.scope == "account"
    audit.record(
        session,
        None,
        "user" if on_account else "address",
        user_id if on_account else None,
        "login.locked",
        SYSTEM,
        now,
        changes={
            "scope": locked.scope,
            "until": locked.until,
            "address": address,
            "account": account_of(email) if user_id is not None else None,
        },
        reason="too many failed logins",
    )
    log.warning("login_locked", scope=locked.scope, until=locked.until.isoformat())


def login(session: Session, email: str, password: str, now: datetime, idle: timedelta) -> Login:
    """Check the password and open a session; the same `Unauthenticated` for an unknown
    e-mail, a wrong password and an inactive user. A user with no open tenant is refused."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    stored = user.password_hash if user is not None and user.active else None
    if not verify_password(password, stored or _DECOY_HASH) or user is None or stored is None:
        raise Unauthenticated(LOGIN_FAILED, code="web.login_failed")
    choices = tenant_choices(session, user, now)
    open_ones = [choice for choice in choices if choice.closed is None]
    if not user.global_admin and not open_ones:
        raise Forbidden("none of your tenants is open", code="web.no_tenant")
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    created = _open(
        session,
        user.id,
        None if user.global_admin else open_ones[0].id,
        secrets.token_urlsafe(32),
        now,
        now + idle,
    )
    user.last_login_at = now
    session.flush()
    return created


def _open(
    session: Session,
    user_id: uuid.UUID,
    acting: uuid.UUID | None,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> Login:
    """A new session row with a new random token."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=hash_token(token),
        user_id=user_id,
        acting_tenant_id=acting,
        csrf_token=csrf_token,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return Login(token, row)


def find(session: Session, token: str, now: datetime) -> tuple[WebSession, User] | None:
    """The live session of a cookie's token and its (active) user, or None."""
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(token), WebSession.expires_at > now)
    ).first()
    if row is None or not row[1].active:
        return None
    return row[0], row[1]


def needs_touch(web_session: WebSession, now: datetime) -> bool:
    """True when the session's sliding expiry is worth writing again."""
    return now - web_session.last_seen_at >= TOUCH_EVERY


def touch(session: Session, session_id: uuid.UUID, now: datetime, idle: timedelta) -> None:
    """Slide the session's expiry: it ends `idle` after this use."""
    row = session.get(WebSession, session_id)
    if row is not None:
        row.last_seen_at = now
        row.expires_at = now + idle
        session.flush()


def end(session: Session, token: str) -> None:
    """End the session of a token (nothing happens for an unknown token)."""
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))


def tenant_choices(session: Session, user: User, now: datetime) -> list[TenantChoice]:
    """The tenants the user may act in, by name: every tenant for a global admin."""
    if user.global_admin:
        tenants = session.execute(
            select(Tenant.id, Tenant.name, Tenant.suspended, Tenant.eval_expires_at).order_by(
                Tenant.name
            )
        )
        return [
            TenantChoice(
                t.id, t.name, "global_admin", suspension_reason(t.suspended, t.eval_expires_at, now)
            )
            for t in tenants
        ]
    rows = session.execute(
        select(Tenant.id, Tenant.name, Tenant.suspended, Tenant.eval_expires_at, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user.id)
        .order_by(Tenant.name)
    )
    return [
        TenantChoice(r.id, r.name, r.role, suspension_reason(r.suspended, r.eval_expires_at, now))
        for r in rows
    ]


def switch_tenant(
    session: Session,
    session_id: uuid.UUID,
    choices: list[TenantChoice],
    wanted: uuid.UUID | None,
    now: datetime,
    *,
    global_admin: bool,
) -> Login:
    """Act in `wanted` (None: every tenant, for global admins only) under a new session
    token (the old one ends; the CSRF token and expiry carry over); a tenant the user may
    not act in is NotFound, a closed one Forbidden."""
    if wanted is None:
        if not global_admin:
            raise NotFound("tenant", "all")
    else:
        choice = next((c for c in choices if c.id == wanted), None)
        if choice is None:
            raise NotFound("tenant", wanted)
        if choice.closed is not None and not global_admin:
            raise Forbidden(f"tenant is suspended: {choice.closed}", code="tenant.suspended")
    row = session.get(WebSession, session_id)
    if row is None:
        raise Unauthenticated("the session has ended; log in again")
    user_id, csrf_token, expires_at = row.user_id, row.csrf_token, row.expires_at
    session.delete(row)
    session.flush()
    return _open(session, user_id, wanted, csrf_token, now, expires_at)
