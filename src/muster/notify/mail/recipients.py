"""Who receives a notification mail (pure).

- assignment: the new assignee (not when they assigned the incident to themselves);
- question: the people the question step asked (its `ask`: the assignee before SOAR, or an
  address); the tenant's analysts and admins when it asked nobody in particular, or when the
  person asked is not an active member;
- sla: the assignee, or the tenant's admins when the incident is unassigned (or SOAR's, or
  its assignee is no longer an active member).

Only active members of the tenant (and global admins) receive mail, so a playbook cannot send
incident details to an outside address through a question. A person who opted out of the kind
(or of "all") is skipped, and their opt-out does not pass the mail on to anyone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from muster.models.enums import Role

__all__ = ["OPT_OUT_ALL", "OPT_OUT_KINDS", "Person", "Recipients", "choose"]

OPT_OUT_KINDS = ("assignment", "question", "sla")
OPT_OUT_ALL = "all"
_QUESTION_FALLBACK = frozenset({Role.ANALYST.value, Role.TENANT_ADMIN.value})
_ADMINS = frozenset({Role.TENANT_ADMIN.value})


@dataclass(frozen=True, slots=True)
class Person:
    """A user as mail sees them: role in the tenant (None for a global admin who is not a
    member), whether they are active, the kinds they opted out of."""

    email: str
    name: str
    role: str | None
    active: bool = True
    opt_out: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who gets the mail, and who was left out and why."""

    to: tuple[Person, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def addresses(self) -> list[str]:
        """The recipients' addresses."""
        return [person.email for person in self.to]


def choose(
    kind: str,
    named: Sequence[str | None],
    people: Mapping[str, Person],
    *,
    actor_email: str | None = None,
) -> Recipients:
    """The recipients of a `kind` mail for the `named` addresses (the assignee, the people
    asked), given the tenant's `people` by lower-case address."""
    wanted = [address.strip().lower() for address in named if address and address.strip()]
    skipped: list[tuple[str, str]] = []
    chosen: list[Person] = []
    unresolved = not wanted
    for address in dict.fromkeys(wanted):
        person = people.get(address)
        if person is None or not person.active:
            skipped.append((address, "not an active member of the tenant"))
            continue
        if kind == "assignment" and actor_email and address == actor_email.lower():
            skipped.append((address, "assigned the incident to themselves"))
            continue
        chosen.append(person)
    if not chosen and len(skipped) == len(wanted):
        unresolved = True
    if kind != "assignment" and unresolved:
        roles = _QUESTION_FALLBACK if kind == "question" else _ADMINS
        chosen = [p for p in _sorted(people.values()) if p.role in roles and p.active]
    to: list[Person] = []
    for person in chosen:
        if OPT_OUT_ALL in person.opt_out or kind in person.opt_out:
            skipped.append((person.email, f"opted out of {kind} mail"))
        else:
            to.append(person)
    return Recipients(tuple(to), tuple(skipped))


def _sorted(people: Iterable[Person]) -> list[Person]:
    return sorted(people, key=lambda person: person.email)
