"""Field catalogues per subject and the checks that bind a syntax tree to them.

Alert fields use their API names; `raw.<path>` reaches into the original payload, `entity.<type>`
means the value of any entity of that type, and for incidents `alerts.<alert field>` means "some
alert of the incident matches".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import regex

from muster.clock import as_utc
from muster.query.errors import query_error
from muster.query.patterns import repeat_problem
from muster.query.tree import ORDERING, Condition, RelTime, Scalar

MAX_PATTERN = 256


class Subject(StrEnum):
    """What a filter is evaluated over."""

    ALERT = "alert"
    INCIDENT = "incident"
    # a playbook condition: the incident's fields, `alerts.<field>`, and `memory.<path>` into the
    # process memory (Python evaluation only; never compiled to SQL)
    PROCESS = "process"


class Kind(StrEnum):
    """The value type of a field."""

    STRING = "string"
    NUMBER = "number"
    TIME = "time"
    BOOL = "bool"
    LIST = "list"  # a list of strings (tags); operators mean "some element"
    JSON = "json"  # a raw path: the literal decides the type compared
    ENTITY = "entity"  # value of any entity of a type; operators mean "some entity"


@dataclass(frozen=True, slots=True)
class Field:
    """A catalogue entry: model attribute, value kind, whether it may be null."""

    attr: str
    kind: Kind
    nullable: bool = True


def _f(attr: str, kind: Kind = Kind.STRING, nullable: bool = True) -> Field:
    return Field(attr, kind, nullable)


ALERT_FIELDS: Mapping[str, Field] = {
    "externalId": _f("external_id"),
    "ruleName": _f("rule_name", nullable=False),
    "description": _f("description", nullable=False),
    "source": _f("source", nullable=False),
    "category": _f("category", nullable=False),
    "severity": _f("severity", Kind.NUMBER, False),
    "action": _f("action", nullable=False),
    "hostname": _f("hostname"),
    "srcHostname": _f("src_hostname"),
    "srcIp": _f("src_ip"),
    "srcPort": _f("src_port", Kind.NUMBER),
    "destHostname": _f("dest_hostname"),
    "destIp": _f("dest_ip"),
    "destPort": _f("dest_port", Kind.NUMBER),
    "username": _f("username"),
    "initiatedBy": _f("initiated_by"),
    "initiatorPath": _f("initiator_path"),
    "initiatorCmd": _f("initiator_cmd"),
    "initiatorSignature": _f("initiator_signature"),
    "initiatorSigner": _f("initiator_signer"),
    "initiatorHash": _f("initiator_hash"),
    "mitreTactic": _f("mitre_tactic"),
    "mitreTechnique": _f("mitre_technique"),
    "tags": _f("tags", Kind.LIST, False),
    "rawEventDataset": _f("raw_event_dataset"),
    "rawEventId": _f("raw_event_id"),
    "occurrences": _f("occurrences", Kind.NUMBER, False),
    "createdAt": _f("created_at", Kind.TIME, False),
    "lastSeenAt": _f("last_seen_at", Kind.TIME, False),
}

INCIDENT_FIELDS: Mapping[str, Field] = {
    "number": _f("number", Kind.NUMBER, False),
    "incidentHash": _f("incident_hash", nullable=False),
    "description": _f("description", nullable=False),
    "details": _f("details", nullable=False),
    "severity": _f("severity", Kind.NUMBER, False),
    "assignee": _f("assignee"),
    "assigneeName": _f("assignee_name"),
    "status": _f("status", nullable=False),
    "resolution": _f("resolution"),
    "source": _f("source", nullable=False),
    "mitreTactic": _f("mitre_tactic"),
    "mitreTechnique": _f("mitre_technique"),
    "groupingAllowed": _f("grouping_allowed", Kind.BOOL, False),
    "excludeFromSLA": _f("exclude_from_sla", Kind.BOOL, False),
    "soarStatus": _f("soar_status", nullable=False),
    "tags": _f("tags", Kind.LIST, False),
    "alertCount": _f("alert_count", Kind.NUMBER, False),
    "createdAt": _f("created_at", Kind.TIME, False),
    "updatedAt": _f("updated_at", Kind.TIME, False),
    "respondedAt": _f("responded_at", Kind.TIME),
    "resolvedAt": _f("resolved_at", Kind.TIME),
}

CATALOGUE: Mapping[Subject, Mapping[str, Field]] = {
    Subject.ALERT: ALERT_FIELDS,
    Subject.INCIDENT: INCIDENT_FIELDS,
    Subject.PROCESS: INCIDENT_FIELDS,
}


@dataclass(frozen=True, slots=True)
class Bound:
    """A condition resolved against a catalogue: field, its path tail and checked operand."""

    cond: Condition
    field: Field
    name: str  # API name (`raw`, `entity` for those families)
    tail: tuple[str | int, ...]  # raw path after `raw`, or (entity type,)
    via_alerts: bool = False  # an incident condition on "some alert"


def bind(cond: Condition, subject: Subject) -> Bound:
    """Resolve the condition's field and check its operand, or raise a `QueryError`."""
    parts = cond.path.parts
    via_alerts = (
        subject in (Subject.INCIDENT, Subject.PROCESS) and parts[0] == "alerts" and len(parts) > 1
    )
    if via_alerts:
        parts = parts[1:]
    bound = _resolve(cond, parts, Subject.ALERT if via_alerts else subject, via_alerts)
    _check(bound)
    return bound


def _resolve(cond: Condition, parts: tuple[str | int, ...], subject: Subject, via: bool) -> Bound:
    head = parts[0]
    if subject is Subject.ALERT and head == "raw" and len(parts) > 1:
        return Bound(cond, Field("raw", Kind.JSON), "raw", parts[1:], via)
    if subject is Subject.PROCESS and head == "memory" and len(parts) > 1:
        return Bound(cond, Field("memory", Kind.JSON), "memory", parts[1:], via)
    entity = subject is Subject.ALERT and head == "entity" and len(parts) == 2
    if entity and isinstance(parts[1], str):
        return Bound(cond, Field("entities", Kind.ENTITY), "entity", parts[1:], via)
    fields = CATALOGUE[subject]
    if len(parts) == 1 and isinstance(head, str) and head in fields:
        return Bound(cond, fields[head], head, (), via)
    raise _err(cond, "query.unknown_field", f"unknown field {cond.path.text!r}; " + _valid(subject))


def _valid(subject: Subject) -> str:
    names = list(CATALOGUE[subject])
    extra = "raw.<path>, entity.<type>"
    if subject is Subject.INCIDENT:
        extra = "alerts.<alert field>"
    if subject is Subject.PROCESS:
        extra = "alerts.<alert field>, memory.<key>"
    return f"valid fields: {', '.join(names)}, {extra}"


def _check(b: Bound) -> None:
    cond, kind = b.cond, b.field.kind
    if cond.op == "exists":
        return
    operands = cond.values if cond.op in ("in", "!in") else (cond.value,)
    for value in operands:
        _check_operand(b, value)
    if cond.op in ORDERING and kind not in (Kind.NUMBER, Kind.TIME, Kind.JSON):
        raise _err(
            cond, "query.type_mismatch", f"{b.name} is a {kind}; {cond.op} orders numbers and times"
        )
    if cond.op in ORDERING and kind is Kind.JSON and not _is_number(cond.value):
        raise _err(cond, "query.type_mismatch", f"{cond.op} on a raw path needs a number")
    if cond.op in ("contains", "!contains", "matches", "incidr", "!incidr"):
        _check_text_op(b)
    if cond.value is None and cond.op not in ("=", "!=", "in", "!in"):
        raise _err(cond, "query.type_mismatch", "null only compares with = and != (use exists)")


def _check_text_op(b: Bound) -> None:
    cond = b.cond
    if b.field.kind not in (Kind.STRING, Kind.LIST, Kind.JSON, Kind.ENTITY):
        raise _err(
            cond,
            "query.type_mismatch",
            f"{b.name} is a {b.field.kind}; {cond.op.lstrip('!')} needs text",
        )
    if not isinstance(cond.value, str):
        raise _err(
            cond,
            "query.type_mismatch",
            f"{cond.op.lstrip('!')} needs a string, got {_describe(cond.value)}",
        )
    if cond.op == "matches":
        compile_pattern(cond.value, cond)
    if cond.op in ("incidr", "!incidr"):
        parse_network(cond.value, cond)


def _check_operand(b: Bound, value: Scalar) -> None:
    kind, cond = b.field.kind, b.cond
    if value is None or kind is Kind.JSON:
        if isinstance(value, RelTime):
            raise _err(cond, "query.type_mismatch", f"{b.name} is not a time")
        return
    ok = {
        Kind.STRING: isinstance(value, str),
        Kind.LIST: isinstance(value, str),
        Kind.ENTITY: isinstance(value, str),
        Kind.NUMBER: _is_number(value),
        Kind.BOOL: isinstance(value, bool),
        Kind.TIME: isinstance(value, RelTime | datetime) or _is_iso(value),
    }[kind]
    if not ok:
        article = "an" if kind in ("entity",) else "a"
        raise _err(
            cond,
            "query.type_mismatch",
            f"{b.name} is {article} {kind}; {_show(value)} is {_describe(value)}",
        )


def _is_number(value: Scalar) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_iso(value: Scalar) -> bool:
    return isinstance(value, str) and parse_time(value) is not None


def parse_time(value: str) -> datetime | None:
    """An ISO-8601 time as aware UTC (naive means UTC), or None when it is not one."""
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        return None


def _describe(value: Scalar) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, RelTime):
        return "a time"
    return "null" if value is None else "a number"


def _show(value: Scalar) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def compile_pattern(pattern: str, cond: Condition | None = None) -> regex.Pattern[str]:
    """Compile a bounded regular expression, or raise `query.bad_regex`."""
    if len(pattern) > MAX_PATTERN:
        raise _err(cond, "query.bad_regex", f"a pattern holds at most {MAX_PATTERN} characters")
    too_costly = repeat_problem(pattern)
    if too_costly is not None:
        raise _err(cond, "query.bad_regex", too_costly)
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise _err(cond, "query.bad_regex", f"bad regular expression: {exc}") from None


def parse_network(
    text: str, cond: Condition | None = None
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse an IPv4 or IPv6 CIDR (host bits allowed), or raise `query.bad_cidr`."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _err(cond, "query.bad_cidr", f"{text!r} is not an IPv4 or IPv6 network") from None


def _err(cond: Condition | None, code: str, message: str) -> Exception:
    if cond is None:
        return query_error(code, message)
    return query_error(code, message, line=cond.line, column=cond.column)
