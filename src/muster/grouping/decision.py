"""Which incident does an alert join? A pure decision over plain data and an explicit `now`.

A tenant's rules are tried in order. A rule *applies* to an alert when its filter (if any)
matches the alert and every one of its key fields has a value on the alert; its grouping key
is a digest of the rule and those values.
The alert joins the newest candidate incident under the first applicable rule whose key
matches and which is not RESOLVED, still allows grouping, is under the rule's maximum number of
alerts, and whose first alert lies within the rule's window of this alert. If no rule finds
such an incident, the alert opens a new one under the first applicable rule (so later alerts
with the same key join it). An alert to which no rule applies opens an incident of its own.

A rule of the `entities` strategy has no key: it applies to every alert its filter accepts
that names an entity, and joins the incident sharing the strongest entities with the alert
when their score reaches the rule's threshold (`muster.grouping.correlation`).
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from muster.grouping.correlation import (
    EntityFacts,
    Match,
    entity_reason,
    match_of,
    score_candidates,
)

RESOLVED = "RESOLVED"
KEYS, ENTITIES = "keys", "entities"
STRATEGIES = (KEYS, ENTITIES)

# Alert fields a grouping key may use: API name -> attribute name.
KEY_FIELDS: Mapping[str, str] = {
    "source": "source",
    "ruleName": "rule_name",
    "category": "category",
    "hostname": "hostname",
    "srcHostname": "src_hostname",
    "srcIp": "src_ip",
    "destHostname": "dest_hostname",
    "destIp": "dest_ip",
    "destPort": "dest_port",
    "username": "username",
    "initiatedBy": "initiated_by",
    "initiatorHash": "initiator_hash",
    "mitreTactic": "mitre_tactic",
    "mitreTechnique": "mitre_technique",
    "rawEventDataset": "raw_event_dataset",
}


@dataclass(frozen=True, slots=True)
class Rule:
    """A grouping rule as the decision sees it."""

    id: str
    name: str
    key_fields: tuple[str, ...]
    window: timedelta
    max_alerts: int
    # the compiled filter (muster.query): the rule applies only to alerts it accepts
    predicate: Callable[[Mapping[str, Any]], bool] | None = None
    strategy: str = KEYS
    # entities strategy: the score a join needs (muster.grouping.correlation)
    threshold: float = 0.5
    # an incident takes alerts only while its last alert is at most this old (None: no limit)
    max_gap: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """An incident that might take the alert."""

    id: uuid.UUID
    number: int
    grouping_key: str | None
    status: str
    grouping_allowed: bool
    alert_count: int
    first_alert_at: datetime
    created_at: datetime
    last_alert_at: datetime | None = None


def candidate_of(fields: Sequence[Any], last_alert_at: datetime | None) -> Candidate:
    """A candidate from the eight leading fields of a pool row (id … created_at)."""
    ident, number, key, status, allowed, count, first, created = fields[:8]
    return Candidate(ident, number, key, status, allowed, count, first, created, last_alert_at)


@dataclass(frozen=True, slots=True)
class Keyed:
    """A rule that applies to an alert, with the alert's key under it."""

    rule: Rule
    key: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AttachTo:
    """Join an existing incident."""

    incident_id: uuid.UUID
    keyed: Keyed
    reason: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenNew:
    """Open a new incident, filed under `keyed` (None when no rule applies)."""

    keyed: Keyed | None
    reason: dict[str, Any] = field(default_factory=dict)


Decision = AttachTo | OpenNew


def grouping_key(rule: Rule, values: Mapping[str, Any]) -> str:
    """Return the stable digest of a rule and an alert's values for its key fields."""
    return _digest(rule.id, tuple(str(values[name]) for name in rule.key_fields), rule.key_fields)


@functools.lru_cache(maxsize=65_536)
def _digest(rule_id: str, values: tuple[str, ...], names: tuple[str, ...]) -> str:
    """Digest of a rule and key values (cached: a busy host repeats the same key all day)."""
    parts = [
        rule_id,
        *(f"{name}={value.casefold()}" for name, value in zip(names, values, strict=True)),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def applicable(alert: Mapping[str, Any], rules: Sequence[Rule]) -> list[Keyed]:
    """Return, in rule order, every rule whose filter accepts `alert` and whose key fields all
    have a value on it (`alert` must then carry the filter's fields: `Prepared.view`)."""
    keyed: list[Keyed] = []
    for rule in rules:
        if rule.predicate is not None and not rule.predicate(alert):
            continue
        if rule.strategy == ENTITIES:
            keyed.append(_unkeyed(rule))
            continue
        values = tuple(alert.get(name) for name in rule.key_fields)
        if None not in values and "" not in values:
            keyed.append(_keyed(rule, values))
    return keyed


@functools.lru_cache(maxsize=1024)
def _unkeyed(rule: Rule) -> Keyed:
    """An entities rule as it applies to an alert: no key."""
    return Keyed(rule, "", MappingProxyType({}))


@functools.lru_cache(maxsize=65_536)
def _keyed(rule: Rule, values: tuple[Any, ...]) -> Keyed:
    """The rule with an alert's key (cached and shared: `Keyed` is immutable)."""
    named = dict(zip(rule.key_fields, values, strict=True))
    return Keyed(rule, grouping_key(rule, named), MappingProxyType(named))


def decide(
    alert: Mapping[str, Any],
    candidates: Sequence[Candidate],
    rules: Sequence[Rule],
    now: datetime,
    *,
    applies: Sequence[Keyed] | None = None,
    entities: EntityFacts | None = None,
) -> Decision:
    """Decide where `alert` (API field names; `createdAt` = event time) goes, and say why.

    `applies` may pass `applicable(alert, rules)` when the caller has computed it already;
    `entities` is what entity rules decide on (without it they are skipped).
    """
    at: datetime = alert.get("createdAt") or now
    keyed_rules = list(applies) if applies is not None else applicable(alert, rules)
    refusals: list[str] = []
    near_miss: Callable[[], dict[str, Any]] | None = None
    for keyed in keyed_rules:
        if keyed.rule.strategy == ENTITIES:
            if entities is None or not (entities.keys or entities.names_any):
                continue
            joined, reason = _by_entities(keyed, entities, at)
            if joined is not None:
                return AttachTo(joined, keyed, reason())
            near_miss = near_miss or reason
            continue
        best: Candidate | None = None
        for cand in candidates:
            if cand.grouping_key != keyed.key:
                continue
            refusal = _refusal(cand, keyed.rule, at)
            if refusal:
                refusals.append(refusal)
            elif best is None or _newness(cand) > _newness(best):
                best = cand
        if best is not None:
            return AttachTo(best.id, keyed, _reason("attached", keyed, best.number, refusals))
    opener = next((k for k in keyed_rules if k.rule.strategy == KEYS), None)
    if opener is not None:
        return OpenNew(opener, _reason("opened", opener, None, refusals))
    if near_miss is not None:
        return OpenNew(None, near_miss())
    return OpenNew(
        None,
        {
            "decision": "opened",
            "rule": None,
            "key": {},
            "detail": (
                "no grouping rule applies (each needs values the alert does not have); "
                "opened a new incident"
            ),
        },
    )


def _by_entities(
    keyed: Keyed, facts: EntityFacts, at: datetime
) -> tuple[uuid.UUID | None, Callable[[], dict[str, Any]]]:
    """The incident an entities rule joins the alert to (or None), and how to say why (built
    only when asked: a near miss is reported only when no key rule opens the incident)."""
    rule = keyed.rule
    scores, cands, refusals = score_candidates(facts, lambda c: _refusal(c, rule, at))
    best: uuid.UUID | None = None
    for incident_id, score in scores.items():
        if best is None or (score, _newness(cands[incident_id])) > (
            scores[best],
            _newness(cands[best]),
        ):
            best = incident_id
    joined = best is not None and scores[best] >= rule.threshold

    def reason() -> dict[str, Any]:
        top: Match | None = match_of(facts, best) if best is not None else None
        return entity_reason(
            "attached" if joined else "opened",
            rule.name,
            rule.id,
            top,
            cands[best].number if best is not None else None,
            rule.threshold,
            _human(rule.window),
            refusals,
        )

    return (best if joined else None), reason


def _newness(cand: Candidate) -> tuple[datetime, int, uuid.UUID]:
    """Order candidates newest-last; ties (one batch opens several at one `now`) break on
    number, then id, so the decision does not depend on the order candidates arrive in."""
    return (cand.created_at, cand.number, cand.id)


def _refusal(cand: Candidate, rule: Rule, at: datetime) -> str | None:
    """Say why `cand` cannot take an alert at `at` under `rule`, or None if it can."""
    if cand.status == RESOLVED:
        return f"incident #{cand.number} is RESOLVED"
    if not cand.grouping_allowed:
        return f"incident #{cand.number} does not allow grouping"
    if cand.alert_count >= rule.max_alerts:
        return f"incident #{cand.number} is full ({cand.alert_count} alerts)"
    if abs(at - cand.first_alert_at) > rule.window:
        return f"incident #{cand.number} is outside the {_human(rule.window)} window"
    quiet = rule.max_gap
    if quiet is not None and cand.last_alert_at is not None and at - cand.last_alert_at > quiet:
        return f"incident #{cand.number} has been quiet for more than {_human(quiet)}"
    return None


def _reason(decision: str, keyed: Keyed, number: int | None, refusals: list[str]) -> dict[str, Any]:
    values = ", ".join(f"{name}={value!r}" for name, value in keyed.values.items())
    window = _human(keyed.rule.window)
    if decision == "attached":
        detail = f"joined incident #{number}: same {values} within {window}"
    else:
        detail = f"no open incident with {values} within {window}; opened a new one"
    if refusals:
        detail += " (" + "; ".join(dict.fromkeys(refusals)) + ")"
    return {
        "decision": decision,
        "rule": keyed.rule.name,
        "ruleId": keyed.rule.id,
        "key": dict(keyed.values),
        "detail": detail,
    }


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
