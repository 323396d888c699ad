"""The Python back end: a syntax tree compiled once into nested closures over plain data.

Items are mappings in API names: an alert (with `raw` and `entities`), an incident, or an
incident with an `alerts` list. A condition on a missing or null field is false, negated
operators included; `not` is plain negation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import regex

from muster.query.fields import Bound, Kind, Subject, bind, compile_pattern, parse_network
from muster.query.fields import parse_time as _iso
from muster.query.tree import NEGATED, And, Expr, Not, Or, RelTime, Scalar

Item = Mapping[str, Any]
Predicate = Callable[[Item], bool]
Test = Callable[[Any], bool]
REGEX_TIMEOUT = 0.05  # seconds per match: a hostile pattern cannot hang a worker
_MISSING = object()


def compile_predicate(tree: Expr, subject: Subject, now: datetime | None = None) -> Predicate:
    """A function telling whether an item matches `tree`; relative times are taken at `now`."""
    return _compile(tree, subject, now or datetime.now(UTC))


def _compile(tree: Expr, subject: Subject, now: datetime) -> Predicate:
    if isinstance(tree, And):
        return _all(tuple(_compile(item, subject, now) for item in tree.items))
    if isinstance(tree, Or):
        return _any(tuple(_compile(item, subject, now) for item in tree.items))
    if isinstance(tree, Not):
        inner = _compile(tree.item, subject, now)
        return lambda item: not inner(item)
    return _condition(bind(tree, subject), now)


def _all(parts: tuple[Predicate, ...]) -> Predicate:
    """Conjunction, short-circuiting (a loop: cheaper than `all()` over a generator)."""

    def conjunction(item: Item) -> bool:
        for part in parts:  # noqa: SIM110 (a loop beats all()/any() over a generator)
            if not part(item):
                return False
        return True

    return conjunction


def _any(parts: tuple[Predicate, ...]) -> Predicate:
    """Disjunction, short-circuiting."""

    def disjunction(item: Item) -> bool:
        for part in parts:  # noqa: SIM110 (a loop beats all()/any() over a generator)
            if part(item):
                return True
        return False

    return disjunction


def _condition(b: Bound, now: datetime) -> Predicate:
    pred = _on_alert(b, now)
    if not b.via_alerts:
        return pred

    def some_alert(item: Item) -> bool:
        return any(pred(alert) for alert in item.get("alerts") or ())

    return some_alert


def _on_alert(b: Bound, now: datetime) -> Predicate:
    op = b.cond.op
    kind = b.field.kind
    if kind in (Kind.LIST, Kind.ENTITY):
        return _many(b, now)
    get = _getter(b)
    if b.field.kind is not Kind.JSON and op not in NEGATED and op != "exists":
        return _direct(b, op, now)
    if op == "exists":
        return lambda item: get(item) is not None
    if op in ("=", "!=") and b.cond.value is None:
        return (
            (lambda item: get(item) is None) if op == "=" else (lambda item: get(item) is not None)
        )
    test = _test(b, NEGATED.get(op, op), now)
    if op in NEGATED:
        return lambda item: (v := get(item)) is not None and not test(v)
    return lambda item: (v := get(item)) is not None and test(v)


def _direct(b: Bound, op: str, now: datetime) -> Predicate:
    """A positive test on a catalogue field, reading the mapping directly (the hot path)."""
    name = b.name
    if b.cond.value is None and op == "=":
        return lambda item: item.get(name) is None
    test = _test(b, op, now)
    return lambda item: (v := item.get(name)) is not None and test(v)


def _many(b: Bound, now: datetime) -> Predicate:
    """Tags and entities: an operator holds when some element satisfies it."""
    op = b.cond.op
    values = _elements(b)
    if op == "exists":
        return lambda item: bool(values(item))
    test = _test(b, NEGATED.get(op, op), now) if b.cond.value is not None or b.cond.values else None
    if test is None:  # = null / != null
        return (lambda item: not values(item)) if op == "=" else (lambda item: bool(values(item)))
    if op in NEGATED:
        return lambda item: not any(test(v) for v in values(item))
    return lambda item: any(test(v) for v in values(item))


def _elements(b: Bound) -> Callable[[Item], list[Any]]:
    if b.field.kind is Kind.LIST:
        name = b.name
        return lambda item: [v for v in item.get(name) or () if v is not None]
    wanted = b.tail[0]

    def entity_values(item: Item) -> list[Any]:
        return [
            e.get("value")
            for e in item.get("entities") or ()
            if isinstance(e, Mapping) and e.get("type") == wanted and e.get("value") is not None
        ]

    return entity_values


def _getter(b: Bound) -> Callable[[Item], Any]:
    if b.field.kind is not Kind.JSON:
        name = b.name
        return lambda item: item.get(name)
    tail, root = b.tail, b.name  # `raw` of an alert, `memory` of a process

    def walk(item: Item) -> Any:
        node: Any = item.get(root)
        for part in tail:
            if isinstance(part, str) and isinstance(node, Mapping):
                node = node.get(part, _MISSING)
            elif isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
            else:
                return None
            if node is _MISSING:
                return None
        return node

    return walk


def _test(b: Bound, op: str, now: datetime) -> Test:
    """The positive test of a present (non-null) value."""
    value = b.cond.value
    if op == "contains":
        needle = str(value).lower()
        return lambda v: isinstance(v, str) and needle in v.lower()
    if op == "matches":
        return _regex_test(compile_pattern(str(value)))
    if op == "incidr":
        net = parse_network(str(value))
        return lambda v: in_network(v, net)
    if op == "in":
        tests = [_compare(b, "=", item, now) for item in b.cond.values if item is not None]
        return lambda v: any(t(v) for t in tests)
    return _compare(b, op, value, now)


def _regex_test(pattern: regex.Pattern[str]) -> Test:
    def test(v: Any) -> bool:
        return isinstance(v, str) and regex_search(pattern, v)

    return test


def regex_search(pattern: regex.Pattern[str], text: str) -> bool:
    """Whether `pattern` occurs in `text`; a match that runs out of time counts as no match."""
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        return False


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def in_network(value: Any, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether `value` is an address inside `net` (false for anything that is not an address)."""
    if not isinstance(value, str):
        return False
    address = _address(value)
    return address is not None and address.version == net.version and address in net


_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    ">": lambda a, b: bool(a > b),
    "<": lambda a, b: bool(a < b),
    ">=": lambda a, b: bool(a >= b),
    "<=": lambda a, b: bool(a <= b),
}


def _compare(b: Bound, op: str, value: Scalar, now: datetime) -> Test:
    fn = _OPS[op]
    kind = b.field.kind
    if kind is Kind.TIME:
        at = resolve_time(value, now)
        return lambda v: (t := as_time(v)) is not None and fn(t, at)
    if kind is Kind.JSON:
        return _json_compare(fn, value)
    if kind is Kind.NUMBER:
        return lambda v: isinstance(v, int | float) and fn(v, value)
    if kind is Kind.BOOL:
        return lambda v: isinstance(v, bool) and fn(v, value)
    return lambda v: isinstance(v, str) and fn(v, value)


def _json_compare(fn: Callable[[Any, Any], bool], value: Scalar) -> Test:
    """A raw value compares only with a literal of its own JSON type."""
    if isinstance(value, bool):
        return lambda v: isinstance(v, bool) and fn(v, value)
    if isinstance(value, int | float):
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and fn(v, value)
    return lambda v: isinstance(v, str) and fn(v, value)


def resolve_time(value: Scalar, now: datetime) -> datetime:
    """A time operand as an aware datetime (relative ones counted from `now`)."""
    if isinstance(value, RelTime):
        return now + value.offset
    if isinstance(value, datetime):
        return value
    parsed = _iso(str(value))
    assert parsed is not None  # checked when the condition was bound
    return parsed


def as_time(value: Any) -> datetime | None:
    """A stored time (datetime or ISO text) as aware UTC, or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return _iso(value)
    return None
