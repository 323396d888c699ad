"""Grouping rules of the session's tenant: CRUD (audited: `grouping_rule.created`, `.updated`,
`.deleted`), default seeding and the active rule list."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.audit.changes import diff
from muster.db.tenancy import tenant_id_of
from muster.errors import InvalidInput, NotFound
from muster.grouping.decision import ENTITIES, KEYS, Rule
from muster.grouping.defaults import DEFAULT_RULES
from muster.grouping.schemas import GroupingRuleCreate, GroupingRuleUpdate
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.models import GroupingRule
from muster.query import Predicate, Subject, compile_predicate, parse, parse_cached
from muster.query.tree import uses_now

DEFAULT_THRESHOLD = 0.5
RULES: Table = GroupingRule.__table__  # type: ignore[assignment]
_ACTIVE_RULES = (
    select(
        RULES.c.id,
        RULES.c.name,
        RULES.c.key_fields,
        RULES.c.window_seconds,
        RULES.c.max_alerts,
        RULES.c.filter,
        RULES.c.extra,
    )
    .where(RULES.c.tenant_id == bindparam("tenant_id"), RULES.c.enabled.is_(True))
    .order_by(RULES.c.position, RULES.c.created_at)
)


def seed_defaults(session: Session, tenant_id: uuid.UUID, now: datetime) -> None:
    """Give a new tenant the default rule set."""
    for position, rule in enumerate(DEFAULT_RULES):
        session.add(
            GroupingRule(
                tenant_id=tenant_id,
                name=rule.name,
                position=position,
                key_fields=list(rule.key_fields),
                window_seconds=int(rule.window.total_seconds()),
                max_alerts=rule.max_alerts,
                enabled=rule.enabled,
                extra=strategy_extra(rule.strategy, rule.threshold),
                created_at=now,
                updated_at=now,
            )
        )


def active_rules(session: Session) -> list[Rule]:
    """The tenant's enabled rules in order, as `decide` sees them (Core: ingest hot path)."""
    rows = session.connection().execute(_ACTIVE_RULES, {"tenant_id": tenant_id_of(session)})
    return [
        Rule(
            str(r.id),
            r.name,
            tuple(r.key_fields),
            timedelta(seconds=r.window_seconds),
            r.max_alerts,
            rule_predicate(r.filter),
            *_strategy(r.extra),
            max_gap(r.extra),
        )
        for r in rows
    ]


def max_gap(extra: dict[str, Any] | None) -> timedelta | None:
    """The rule's quiet gap (`maxGapSeconds`, kept in `extra`), or None."""
    seconds = (extra or {}).get("maxGapSeconds")
    return timedelta(seconds=int(seconds)) if seconds else None


def _with_gap(extra: dict[str, Any], seconds: int | None) -> dict[str, Any]:
    """`extra` with `maxGapSeconds` set (or removed for None)."""
    out = {name: value for name, value in extra.items() if name != "maxGapSeconds"}
    if seconds is not None:
        out["maxGapSeconds"] = int(seconds)
    return out


def strategy_extra(strategy: str, threshold: float | None) -> dict[str, Any]:
    """What a rule stores in `extra` for its strategy (nothing for a key rule)."""
    if strategy != ENTITIES:
        return {}
    return {
        "strategy": ENTITIES,
        "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
    }


def _strategy(extra: dict[str, Any] | None) -> tuple[str, float]:
    """(strategy, threshold) of a rule from its `extra`."""
    extra = extra or {}
    return str(extra.get("strategy", KEYS)), float(extra.get("threshold", DEFAULT_THRESHOLD))


def list_rules(session: Session) -> list[GroupingRule]:
    """Every rule of the tenant, in evaluation order."""
    return list(
        session.scalars(
            select(GroupingRule).order_by(GroupingRule.position, GroupingRule.created_at)
        )
    )


def get_rule(session: Session, rule_id: uuid.UUID) -> GroupingRule:
    """The rule, or `NotFound` (also for another tenant's rule)."""
    rule = session.scalars(select(GroupingRule).where(GroupingRule.id == rule_id)).first()
    if rule is None:
        raise NotFound("grouping_rule", rule_id)
    return rule


def create_rule(
    session: Session, data: GroupingRuleCreate, now: datetime, *, actor: Actor = SYSTEM
) -> GroupingRule:
    """Add a rule at `position` (default: last); rules at or after it move down one place."""
    _check_filter(data.filter)
    _check_strategy(data.strategy, data.key_fields)
    position = data.position
    if position is None:
        position = (session.scalar(select(func.max(GroupingRule.position))) or -1) + 1
    else:
        _make_room(session, position, None)
    rule = GroupingRule(
        tenant_id=tenant_id_of(session),
        name=data.name,
        position=position,
        enabled=data.enabled,
        key_fields=data.key_fields or [],
        window_seconds=data.window_seconds,
        max_alerts=data.max_alerts,
        filter=data.filter,
        extra=_with_gap(strategy_extra(data.strategy, data.threshold), data.max_gap_seconds),
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    _audit(session, rule, "grouping_rule.created", actor, now, _audited(rule))
    return rule


def update_rule(
    session: Session,
    rule_id: uuid.UUID,
    data: GroupingRuleUpdate,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
) -> GroupingRule:
    """Change the given fields of a rule."""
    rule = get_rule(session, rule_id)
    before = _audited(rule)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "key_fields", "window_seconds", "max_alerts", "position", "enabled"):
        if name in changes and changes[name] is None:
            raise InvalidInput.field(name, "must not be null")
    if "filter" in changes:
        _check_filter(changes["filter"])
    _update_strategy(rule, changes)
    if "max_gap_seconds" in changes:
        rule.extra = _with_gap(rule.extra or {}, changes.pop("max_gap_seconds"))
    if changes.get("position") is not None and changes["position"] != rule.position:
        _make_room(session, changes["position"], rule.id)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.updated_at = now
    session.flush()
    changed = diff(before, _audited(rule))
    if changed:
        _audit(session, rule, "grouping_rule.updated", actor, now, changed)
    return rule


def delete_rule(
    session: Session, rule_id: uuid.UUID, now: datetime, *, actor: Actor = SYSTEM
) -> None:
    """Remove a rule; incidents it opened keep their alerts."""
    rule = get_rule(session, rule_id)
    _audit(session, rule, "grouping_rule.deleted", actor, now, _audited(rule))
    session.delete(rule)
    session.flush()


def _audited(rule: GroupingRule) -> dict[str, Any]:
    """What the audit log shows of a rule."""
    return {
        "name": rule.name,
        "position": rule.position,
        "enabled": rule.enabled,
        "keyFields": list(rule.key_fields or []),
        "windowSeconds": rule.window_seconds,
        "maxAlerts": rule.max_alerts,
        "filter": rule.filter,
        "extra": dict(rule.extra or {}),
    }


def _audit(
    session: Session,
    rule: GroupingRule,
    action: str,
    actor: Actor,
    now: datetime,
    changes: dict[str, Any],
) -> None:
    audit.record(
        session, rule.tenant_id, "grouping_rule", rule.id, action, actor, now, changes=changes
    )


def _make_room(session: Session, position: int, moving: uuid.UUID | None) -> None:
    """Shift the tenant's rules at or after `position` one place down (except `moving`)."""
    stmt = (
        update(GroupingRule)
        .where(GroupingRule.tenant_id == tenant_id_of(session), GroupingRule.position >= position)
        .values(position=GroupingRule.position + 1)
        .execution_options(synchronize_session=False)
    )
    if moving is not None:
        stmt = stmt.where(GroupingRule.id != moving)
    session.execute(stmt)


def _check_strategy(strategy: str, key_fields: list[str] | None) -> None:
    """A key rule needs key fields; an entities rule has none."""
    if strategy == KEYS and not key_fields:
        raise InvalidInput.field("keyFields", "a rule of the keys strategy needs key fields")
    if strategy == ENTITIES and key_fields:
        raise InvalidInput.field("keyFields", "a rule of the entities strategy has no key fields")


def _update_strategy(rule: GroupingRule, changes: dict[str, Any]) -> None:
    """Apply `strategy` and `threshold` changes to a rule's `extra` (and check key fields)."""
    current, threshold = _strategy(rule.extra)
    strategy = changes.pop("strategy", None) or current
    if changes.get("threshold") is not None:
        threshold = changes["threshold"]
    changes.pop("threshold", None)
    if strategy != current and strategy == ENTITIES and "key_fields" not in changes:
        changes["key_fields"] = []
    _check_strategy(strategy, changes.get("key_fields", rule.key_fields))
    rule.extra = {**(rule.extra or {}), **strategy_extra(strategy, threshold)}
    if strategy == KEYS:
        rule.extra.pop("strategy", None)
        rule.extra.pop("threshold", None)


def _check_filter(expression: str | None) -> None:
    """Parse and type-check a rule filter over alerts, or raise a `query.*` 400."""
    if expression:
        compile_predicate(parse(expression), Subject.ALERT)


def rule_predicate(expression: str | None) -> Predicate | None:
    """The compiled filter of a rule (cached per text unless it uses relative times)."""
    if not expression:
        return None
    cached = _cached_predicate(expression)
    if cached is not None:
        return cached
    return compile_predicate(parse_cached(expression), Subject.ALERT)


@functools.lru_cache(maxsize=1024)
def _cached_predicate(expression: str) -> Predicate | None:
    tree = parse_cached(expression)
    return None if uses_now(tree) else compile_predicate(tree, Subject.ALERT)
