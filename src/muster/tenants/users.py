"""Users and their memberships, as seen from one tenant (or globally by the MSSP)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.audit.changes import diff
from muster.auth.passwords import hash_password
from muster.db.tenancy import tenant_id_of
from muster.errors import Conflict, Forbidden, NotFound
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.models import Membership, User, WebSession
from muster.models.enums import TENANT_ROLES, Role
from muster.tenants.schemas import UserCreate, UserRead, UserUpdate


def members(session: Session) -> dict[str, str]:
    """email -> display name of everyone who may be assigned incidents in the tenant."""
    rows = session.execute(
        select(User.email, User.name)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(User.active.is_(True))
        .where(or_(Membership.id.is_not(None), User.global_admin.is_(True)))
    )
    return {row.email: row.name for row in rows}


def list_users(session: Session) -> list[UserRead]:
    """Members of the tenant with their role."""
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .order_by(User.email)
    )
    return [_read(user, role) for user, role in rows]


def get_user(session: Session, user_id: uuid.UUID) -> UserRead:
    """A member of the tenant, or NotFound (also for users of other tenants only)."""
    user, membership = _member(session, user_id)
    return _read(user, membership.role)


def create_user(
    session: Session, data: UserCreate, now: datetime, *, by_global: bool, actor: Actor = SYSTEM
) -> UserRead:
    """Add a member to the tenant, creating the user if the e-mail is new (`user.added`)."""
    email = data.email.lower()
    if data.role is Role.GLOBAL_ADMIN and not by_global:
        raise Forbidden("only a global admin can create global admins", code="auth.role_required")
    tenant_id = tenant_id_of(session)
    user = session.scalars(select(User).where(User.email == email)).first()
    new_login = user is None
    if user is None:
        user = User(
            email=email,
            name=data.name,
            title=data.title,
            global_admin=data.role is Role.GLOBAL_ADMIN,
            password_hash=hash_password(data.password.get_secret_value())
            if data.password
            else None,
            created_at=now,
            updated_at=now,
        )
        session.add(user)
        session.flush()
    elif session.scalar(select(Membership.id).where(Membership.user_id == user.id)):
        raise Conflict(f"{email} is already a member of this tenant", code="user.already_member")
    role = Role.TENANT_ADMIN if data.role is Role.GLOBAL_ADMIN else data.role
    session.add(
        Membership(
            tenant_id=tenant_id, user_id=user.id, role=role.value, created_at=now, updated_at=now
        )
    )
    session.flush()
    changes = {**_audited(user, role.value), "newLogin": new_login}
    audit.record(session, tenant_id, "user", user.id, "user.added", actor, now, changes=changes)
    return _read(user, role.value)


# what a login shares with every tenant it is a member of (the role is per tenant)
LOGIN_FIELDS = ("name", "title", "active", "password", "email_opt_out")


def update_user(
    session: Session,
    user_id: uuid.UUID,
    data: UserUpdate,
    now: datetime,
    *,
    by_global: bool,
    actor: Actor = SYSTEM,
) -> UserRead:
    """Change a member's profile, role in this tenant, activity, password or e-mail opt-out
    (`user.updated`); a new password or a deactivation ends the user's console sessions."""
    user, membership = _member(session, user_id)
    login_change = any(getattr(data, name) is not None for name in LOGIN_FIELDS)
    if not by_global and login_change:
        _require_own_login(session, user, membership)
    before = _audited(user, membership.role)
    if data.role is not None:
        if data.role not in TENANT_ROLES:
            if not by_global:
                raise Forbidden(
                    "only a global admin can grant global admin", code="auth.role_required"
                )
            user.global_admin = login_change = True
        else:
            membership.role = data.role.value
            membership.updated_at = now
    for name in ("name", "title", "active"):
        value = getattr(data, name)
        if value is not None:
            setattr(user, name, value)
    if data.password is not None:
        user.password_hash = hash_password(data.password.get_secret_value())
    if data.email_opt_out is not None:
        user.email_opt_out = opt_out_list(data.email_opt_out)
    if login_change:  # a role is the membership's: the login (other tenants') is untouched
        user.updated_at = now
    session.flush()
    changes: dict[str, Any] = diff(before, _audited(user, membership.role))
    if data.password is not None:
        changes["passwordChanged"] = True
    if data.password is not None or "active" in changes:
        end_sessions(session, user.id)
    if changes:
        tenant_id = membership.tenant_id
        audit.record(
            session, tenant_id, "user", user.id, "user.updated", actor, now, changes=changes
        )
    return _read(user, membership.role)


def end_sessions(session: Session, user_id: uuid.UUID) -> None:
    """End every console session of the user (they log in again)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def set_email_opt_out(
    session: Session,
    user_id: uuid.UUID,
    kinds: Sequence[str],
    now: datetime,
    *,
    actor: Actor = SYSTEM,
    by_global: bool = False,
) -> list[str]:
    """Replace the member's e-mail opt-out (`muster.notify.mail.recipients`); the new list."""
    user, membership = _member(session, user_id)
    if not by_global:
        _require_own_login(session, user, membership)
    before = list(user.email_opt_out or [])
    user.email_opt_out = opt_out_list(kinds)
    user.updated_at = now
    session.flush()
    if before != user.email_opt_out:
        changes = {"emailOptOut": [before, list(user.email_opt_out)]}
        audit.record(
            session,
            membership.tenant_id,
            "user",
            user.id,
            "user.updated",
            actor,
            now,
            changes=changes,
        )
    return list(user.email_opt_out)


def email_opt_out(session: Session, user_id: uuid.UUID) -> list[str]:
    """The member's e-mail opt-out."""
    user, _ = _member(session, user_id)
    return list(user.email_opt_out or [])


def opt_out_list(kinds: Sequence[str]) -> list[str]:
    """The kinds once each, in a stable order ("all" alone when given)."""
    if "all" in kinds:
        return ["all"]
    return sorted(set(kinds))


def remove_user(
    session: Session, user_id: uuid.UUID, now: datetime, *, actor: Actor = SYSTEM
) -> None:
    """Take the user out of this tenant (the login stays for their other tenants);
    `user.removed`."""
    user, membership = _member(session, user_id)
    # A login nobody else uses goes with its last membership (the cascade removes that).
    login_deleted = not (_elsewhere(session, user, membership) or user.global_admin)
    changes = {**_audited(user, membership.role), "loginDeleted": login_deleted}
    audit.record(
        session, membership.tenant_id, "user", user.id, "user.removed", actor, now, changes=changes
    )
    session.delete(user if login_deleted else membership)
    session.flush()


def _elsewhere(session: Session, user: User, membership: Membership) -> bool:
    """True when the user is a member of another tenant too (asks nothing else of it)."""
    found = session.scalar(
        select(Membership.id)
        .where(Membership.user_id == user.id, Membership.id != membership.id)
        .limit(1)
        .execution_options(skip_tenancy=True)  # only asks whether other tenants remain
    )
    return found is not None


def _require_own_login(session: Session, user: User, membership: Membership) -> None:
    """A tenant admin changes a login's profile, password, activity or e-mail opt-out only
    when the login is the tenant's alone: never a global admin's or one that is a member of
    another tenant too (Forbidden `user.shared_login`; a global admin may)."""
    if user.global_admin or _elsewhere(session, user, membership):
        raise Forbidden(
            "this login is also used outside this tenant: only a global admin can change its "
            "name, title, password, activity or e-mail opt-out",
            code="user.shared_login",
        )


def _member(session: Session, user_id: uuid.UUID) -> tuple[User, Membership]:
    row = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id)
    ).first()
    if row is None:
        raise NotFound("user", user_id)
    return row[0], row[1]


def _audited(user: User, role: str) -> dict[str, Any]:
    """What the audit log shows of a member (never the password hash)."""
    return {
        "email": user.email,
        "name": user.name,
        "title": user.title,
        "role": role,
        "globalAdmin": user.global_admin,
        "active": user.active,
        "emailOptOut": list(user.email_opt_out or []),
    }


def _read(user: User, role: str | None) -> UserRead:
    data = UserRead.model_validate(user)
    if user.global_admin:
        data.role = Role.GLOBAL_ADMIN
    elif role:
        data.role = Role(role)
    return data
