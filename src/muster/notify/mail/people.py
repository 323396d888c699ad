"""The people of a tenant as mail sees them (data access, in a tenant session)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from muster.incidents.lifecycle import Actor
from muster.models import ApiKey, Membership, User
from muster.notify.mail.recipients import Person

__all__ = ["actor_display", "member", "tenant_people", "user_actor"]


def tenant_people(session: Session, also: Collection[str] = ()) -> dict[str, Person]:
    """Every member of the session's tenant, plus the global admins among `also` (who may be
    assigned without a membership), by lower-case address."""
    people: dict[str, Person] = {}
    for user, role in session.execute(
        select(User, Membership.role).join(Membership, Membership.user_id == User.id)
    ):
        people[user.email.lower()] = _person(user, role)
    wanted = {address.lower() for address in also if address} - set(people)
    if wanted:
        for user in session.scalars(
            select(User).where(func.lower(User.email).in_(wanted), User.global_admin.is_(True))
        ):
            people[user.email.lower()] = _person(user, None)
    return people


def member(session: Session, address: str) -> tuple[User, str | None] | None:
    """The active user with this address who is a member of the session's tenant (with their
    role) or a global admin (role None); None for anyone else."""
    user = session.scalars(select(User).where(func.lower(User.email) == address.lower())).first()
    if user is None or not user.active:
        return None
    role = session.scalar(select(Membership.role).where(Membership.user_id == user.id))
    if role is None and not user.global_admin:
        return None
    return user, role


def actor_display(session: Session, kind: str, actor_id: str) -> tuple[str, str | None]:
    """How a timeline actor reads in a message, and the person's address when it is a user."""
    prefix, _, ident = actor_id.partition(":")
    row_id = _uuid(ident)
    if kind == "user" and prefix == "user" and row_id is not None:
        user = session.get(User, row_id)
        if user is not None:
            return user.name, user.email.lower()
    if kind == "apikey" and prefix == "apikey" and row_id is not None:
        key = session.get(ApiKey, row_id)
        if key is not None:
            return f"API key {key.name!r}", None
    fallback = {"user": "a user", "apikey": "an API key", "soar": "SOAR (a playbook)"}
    return fallback.get(kind, "muster"), None


def user_actor(user: User) -> Actor:
    """A user as the author of a comment or an answer."""
    return Actor("user", f"user:{user.id}", user.name)


def _person(user: User, role: str | None) -> Person:
    return Person(
        email=user.email.lower(),
        name=user.name,
        role=role,
        active=user.active,
        opt_out=frozenset(user.email_opt_out or ()),
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
