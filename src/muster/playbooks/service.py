"""Playbooks of the session's tenant: versioned CRUD, the checks run on every save, and the
enabled playbooks of a trigger in evaluation order.

Every save validates the whole definition (`graph.check` with the registered actions and the
tenant's playbook names, plus sub-playbook cycles across playbooks), stores it as the
playbook's current definition and as a new immutable `PlaybookVersion`, and writes an audit
event. A playbook another playbook runs as a sub-playbook can be neither renamed nor deleted,
and one with unfinished SOAR processes cannot be deleted. Services flush, never commit.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from muster.db.tenancy import tenant_id_of
from muster.errors import Conflict, InvalidInput, NotFound, StaleVersion
from muster.incidents.lifecycle import Actor
from muster.incidents.timeline import record
from muster.models import Playbook, PlaybookVersion, SoarProcess
from muster.pagination import decode_cursor, encode_cursor
from muster.playbooks import graph
from muster.playbooks.definition import PlaybookDefinition, PlaybookStep, Trigger
from muster.playbooks.selection import Candidate
from muster.playbooks.yaml_io import to_document
from muster.query import Predicate, QueryError, Subject, compile_predicate, parse_cached
from muster.query.tree import uses_now
from muster.soar.actions.base import load_actions

log = structlog.get_logger("muster.playbooks")

ENDED = ("FINISHED", "FAILED", "CANCELLED")  # process states that hold nothing up
SETTINGS = ("name", "description", "trigger", "enabled", "criteria", "weight")
CURSOR_SORT = "playbooks"


def get_playbook(session: Session, playbook_id: uuid.UUID) -> Playbook:
    """The playbook, or `NotFound` (also for another tenant's id)."""
    playbook = session.scalars(select(Playbook).where(Playbook.id == playbook_id)).first()
    if playbook is None:
        raise NotFound("playbook", playbook_id)
    return playbook


def definition_of(row: Playbook | PlaybookVersion) -> PlaybookDefinition:
    """The definition a playbook (its current version) or a saved version holds."""
    return PlaybookDefinition.model_validate(row.definition)


def list_playbooks(
    session: Session,
    *,
    trigger: Trigger | None = None,
    enabled: bool | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[Playbook], str | None]:
    """One page of playbooks in evaluation order (weight descending, then name) and the cursor
    of the next page (None on the last)."""
    stmt = select(Playbook)
    if trigger is not None:
        stmt = stmt.where(Playbook.trigger == trigger)
    if enabled is not None:
        stmt = stmt.where(Playbook.enabled.is_(enabled))
    if cursor:
        weight, name = _position(cursor)
        stmt = stmt.where(
            or_(Playbook.weight < weight, and_(Playbook.weight == weight, Playbook.name > name))
        )
    stmt = stmt.order_by(Playbook.weight.desc(), Playbook.name).limit(limit + 1)
    rows = list(session.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(CURSOR_SORT, [last.weight, last.name], last.id)


def _position(cursor: str) -> tuple[int, str]:
    value, _ = decode_cursor(cursor, CURSOR_SORT)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)):
        raise InvalidInput.field("cursor", "is not a cursor from this list")
    return value[0], str(value[1])


def create_playbook(
    session: Session, definition: PlaybookDefinition, actor: Actor, now: datetime
) -> Playbook:
    """Save a new playbook as version 1, or refuse a taken name (409) or a bad graph (400)."""
    _refuse_taken_name(session, definition.name, None)
    _validate(session, definition, None)
    playbook = Playbook(
        id=uuid.uuid4(),
        tenant_id=tenant_id_of(session),
        version=1,
        created_at=now,
        updated_at=now,
    )
    _store(session, playbook, definition, actor, now)
    record(
        session,
        playbook.id,
        "playbook.created",
        actor,
        now,
        reason=f"playbook {definition.name!r} created",
        subject_type="playbook",
    )
    return playbook


def update_playbook(
    session: Session,
    playbook_id: uuid.UUID,
    definition: PlaybookDefinition,
    actor: Actor,
    now: datetime,
    *,
    if_match: int | None = None,
) -> Playbook:
    """Replace the definition as a new version (checked against `If-Match` when given)."""
    playbook = get_playbook(session, playbook_id)
    if if_match is not None and if_match != playbook.version:
        raise StaleVersion(
            f"playbook is at version {playbook.version}, not {if_match}; reload and retry",
            code="playbook.stale_version",
        )
    if definition.name != playbook.name:
        _refuse_taken_name(session, definition.name, playbook.id)
        _refuse_if_called(session, playbook, "renamed")
    _validate(session, definition, playbook.id)
    before = {name: getattr(playbook, name) for name in SETTINGS}
    steps_before = playbook.definition.get("steps")
    playbook.version += 1
    playbook.updated_at = now
    _store(session, playbook, definition, actor, now)
    _record_update(session, playbook, before, steps_before, actor, now)
    return playbook


def _record_update(
    session: Session,
    playbook: Playbook,
    before: Mapping[str, Any],
    steps_before: Any,
    actor: Actor,
    now: datetime,
) -> None:
    """Audit a save: the version step, the settings that changed, whether the steps did."""
    changes: dict[str, Any] = {"version": [playbook.version - 1, playbook.version]}
    for name, value in before.items():
        if value != getattr(playbook, name):
            changes[name] = [value, getattr(playbook, name)]
    steps_changed = steps_before != playbook.definition["steps"]
    record(
        session,
        playbook.id,
        "playbook.updated",
        actor,
        now,
        changes=changes,
        reason="steps changed" if steps_changed else "steps unchanged",
        subject_type="playbook",
    )


def delete_playbook(session: Session, playbook_id: uuid.UUID, actor: Actor, now: datetime) -> None:
    """Delete a playbook and its versions, unless processes still run it or playbooks call it."""
    playbook = get_playbook(session, playbook_id)
    running = session.scalar(
        select(func.count())
        .select_from(SoarProcess)
        .where(SoarProcess.playbook_id == playbook.id, SoarProcess.status.not_in(ENDED))
    )
    if running:
        raise Conflict(
            f"playbook {playbook.name!r} has {running} unfinished SOAR process(es); "
            "wait for them or cancel them first",
            code="playbook.running",
        )
    _refuse_if_called(session, playbook, "deleted")
    record(
        session,
        playbook.id,
        "playbook.deleted",
        actor,
        now,
        changes={"version": [playbook.version, None]},
        reason=f"playbook {playbook.name!r} deleted",
        subject_type="playbook",
    )
    session.delete(playbook)
    session.flush()


def get_version(session: Session, playbook_id: uuid.UUID, version: int) -> PlaybookVersion:
    """Saved version `version` of the playbook (immutable), or `NotFound`."""
    found = session.scalars(
        select(PlaybookVersion).where(
            PlaybookVersion.playbook_id == playbook_id, PlaybookVersion.version == version
        )
    ).first()
    if found is None:
        get_playbook(session, playbook_id)  # the playbook's own 404 first
        raise NotFound("playbook_version", f"{playbook_id} version {version}")
    return found


def list_versions(session: Session, playbook_id: uuid.UUID) -> list[PlaybookVersion]:
    """Every saved version of the playbook, newest first."""
    get_playbook(session, playbook_id)
    return list(
        session.scalars(
            select(PlaybookVersion)
            .where(PlaybookVersion.playbook_id == playbook_id)
            .order_by(PlaybookVersion.version.desc())
        )
    )


def enabled_for_trigger(
    session: Session, trigger: Trigger, now: datetime | None = None
) -> list[tuple[Playbook, Predicate | None]]:
    """The enabled playbooks of `trigger` by weight (descending), then name, each with its
    compiled criteria over the incident (None: no criteria, matches every incident); relative
    times in criteria count from `now`. A playbook whose stored criteria no longer compile is
    left out (and logged)."""
    rows = session.scalars(
        select(Playbook)
        .where(Playbook.trigger == trigger, Playbook.enabled.is_(True))
        .order_by(Playbook.weight.desc(), Playbook.name)
    )
    found: list[tuple[Playbook, Predicate | None]] = []
    for playbook in rows:
        try:
            found.append((playbook, criteria_predicate(playbook.criteria, now)))
        except QueryError as exc:
            log.warning("playbook_criteria_unusable", playbook=str(playbook.id), error=exc.detail)
    return found


def candidates_for(
    session: Session, trigger: Trigger, now: datetime | None = None
) -> list[Candidate]:
    """`enabled_for_trigger` as the input of `selection.select` (criteria text included)."""
    return [
        Candidate(playbook.name, playbook.weight, predicate, playbook.id, playbook.criteria)
        for playbook, predicate in enabled_for_trigger(session, trigger, now)
    ]


def criteria_predicate(criteria: str | None, now: datetime | None = None) -> Predicate | None:
    """The compiled incident filter of a playbook's criteria (None when it has none)."""
    if not criteria:
        return None
    cached = _cached_predicate(criteria)
    if cached is not None:
        return cached
    return compile_predicate(parse_cached(criteria), Subject.INCIDENT, now)


@functools.lru_cache(maxsize=1024)
def _cached_predicate(criteria: str) -> Predicate | None:
    tree = parse_cached(criteria)
    return None if uses_now(tree) else compile_predicate(tree, Subject.INCIDENT)


def _store(
    session: Session,
    playbook: Playbook,
    definition: PlaybookDefinition,
    actor: Actor,
    now: datetime,
) -> None:
    """Make `definition` the playbook's current one and save it as version `playbook.version`."""
    document = to_document(definition)
    for name in SETTINGS:
        setattr(playbook, name, getattr(definition, name))
    playbook.definition = document
    session.add(playbook)
    session.add(
        PlaybookVersion(
            tenant_id=playbook.tenant_id,
            playbook_id=playbook.id,
            version=playbook.version,
            definition=document,
            created_by=actor.id,
            created_at=now,
        )
    )
    session.flush()


def _refuse_taken_name(session: Session, name: str, playbook_id: uuid.UUID | None) -> None:
    stmt = select(Playbook.id).where(Playbook.name == name)
    if playbook_id is not None:
        stmt = stmt.where(Playbook.id != playbook_id)
    if session.scalars(stmt).first() is not None:
        raise Conflict(
            f"a playbook named {name!r} already exists in this tenant",
            code="playbook.duplicate_name",
        )


def _calls(session: Session) -> dict[uuid.UUID, tuple[str, set[str]]]:
    """Every playbook of the tenant: id -> (name, names of the playbooks it runs)."""
    rows = session.execute(select(Playbook.id, Playbook.name, Playbook.definition))
    return {row.id: (row.name, _called(row.definition)) for row in rows}


def _called(document: Mapping[str, Any]) -> set[str]:
    steps = document.get("steps") or ()
    return {s["playbook"] for s in steps if s.get("kind") == "playbook" and "playbook" in s}


def _refuse_if_called(session: Session, playbook: Playbook, verb: str) -> None:
    callers = sorted(
        name
        for pid, (name, called) in _calls(session).items()
        if pid != playbook.id and playbook.name in called
    )
    if callers:
        raise Conflict(
            f"playbook {playbook.name!r} cannot be {verb}: "
            f"{', '.join(map(repr, callers))} run(s) it as a sub-playbook; change those first",
            code="playbook.in_use",
        )


def _validate(
    session: Session, definition: PlaybookDefinition, playbook_id: uuid.UUID | None
) -> None:
    """Raise `InvalidInput` listing every problem of the definition within this tenant."""
    calls = {name: called for pid, (name, called) in _calls(session).items() if pid != playbook_id}
    calls[definition.name] = {s.playbook for s in definition.steps if isinstance(s, PlaybookStep)}
    problems = graph.check(definition, load_actions(), calls.keys())
    if not problems:
        problems = graph.call_cycles(definition, calls)
    if problems:
        raise _invalid(problems)


def _invalid(problems: Collection[graph.Problem]) -> InvalidInput:
    errors = [
        {"field": p.field, "message": p.message, **({"step": p.step} if p.step else {})}
        for p in problems
    ]
    first = next(iter(problems))
    where = f"step {first.step!r} ({first.field})" if first.step else first.field
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return InvalidInput(f"{where}: {first.message}{more}", code="playbook.invalid", errors=errors)
