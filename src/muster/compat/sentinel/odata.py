"""Sentinel's OData `$filter` and `$orderby` on incidents, translated to muster's own terms.

`filter_expression` turns `$filter` into a muster filter-language expression
(docs/query-language.md), which the incident list compiles to SQL; `native_sort` turns
`$orderby` into the native list's sort. Pure: the grammar is `odata.lark` (lark, LALR); every
refusal is an `InvalidInput` naming the parameter and the offending part, so the list answers
400 and never guesses.

Supported: `eq ne gt ge lt le`, `in (...)`, `and or not`, parentheses, and the functions
`contains`, `startswith`, `endswith`, over the properties in `FIELDS`. `ne` is OData's
(true when the property is null); `contains` is case-insensitive, as muster's is.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import VisitError

from muster.clock import as_utc
from muster.compat.mapping import classification_name, severity_from_name, status_from_name
from muster.errors import InvalidInput
from muster.models.enums import Resolution
from muster.query import MAX_LENGTH

FILTER = "$filter"
ORDERBY = "$orderby"


class Kind(StrEnum):
    """How a Sentinel property's values become muster values."""

    STATUS = "status"  # New/Active/Closed -> OPEN/UNDER_INVESTIGATION/RESOLVED
    SEVERITY = "severity"  # Informational..High -> 1..4 (ordered)
    CLASSIFICATION = "classification"  # -> the resolutions that read as it
    TEXT = "text"
    EMAIL = "email"  # compared lower-cased, as muster stores assignees
    TIME = "time"
    NUMBER = "number"


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable Sentinel property: the muster field it reads and its value kind."""

    target: str
    kind: Kind


FIELDS: dict[str, Field] = {
    "properties/status": Field("status", Kind.STATUS),
    "properties/severity": Field("severity", Kind.SEVERITY),
    "properties/classification": Field("resolution", Kind.CLASSIFICATION),
    "properties/title": Field("description", Kind.TEXT),
    "properties/description": Field("details", Kind.TEXT),
    "properties/createdTimeUtc": Field("createdAt", Kind.TIME),
    "properties/lastModifiedTimeUtc": Field("updatedAt", Kind.TIME),
    "properties/incidentNumber": Field("number", Kind.NUMBER),
    "properties/owner/email": Field("assignee", Kind.EMAIL),
    "properties/owner/userPrincipalName": Field("assignee", Kind.EMAIL),
    "properties/owner/assignedTo": Field("assigneeName", Kind.TEXT),
}
_ORDERED = frozenset({Kind.SEVERITY, Kind.TIME, Kind.NUMBER})
_TEXTUAL = frozenset({Kind.TEXT, Kind.EMAIL})
_OPERATORS = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCTIONS = ("contains", "startswith", "endswith")

SORTS: dict[str, str] = {
    "properties/createdTimeUtc": "createdAt",
    "properties/lastModifiedTimeUtc": "updatedAt",
    "properties/severity": "severity",
    "properties/incidentNumber": "number",
}
DEFAULT_SORT = "-createdAt"  # newest first, as Sentinel's portal lists them


@dataclass(frozen=True, slots=True)
class Literal:
    """An OData literal: its value and how it was written."""

    value: str | int | float | bool | None
    written: str  # string, datetime, number, null, bool


def filter_expression(text: str) -> str:
    """The muster filter expression equivalent to an OData `$filter`; InvalidInput (naming
    `$filter` and the problem) for syntax or properties this API does not support."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput.field(FILTER, f"is longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise InvalidInput.field(FILTER, "is empty")
    tree = _parse(text, "filter", FILTER)
    try:
        result: str = _Translate().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, InvalidInput):
            raise exc.orig_exc from None
        raise
    return result


def native_sort(text: str | None) -> str:
    """The native list sort (`-createdAt`, `+severity`…) for an OData `$orderby`; one property,
    ascending unless `desc` (OData's default); newest first when absent."""
    if text is None or not text.strip():
        return DEFAULT_SORT
    tree = _parse(text, "order_by", ORDERBY)
    items = tree.children
    if len(items) != 1:
        raise InvalidInput.field(ORDERBY, "sorts by one property only")
    member, *direction = items[0].children
    path = _path(member)
    if path not in SORTS:
        raise InvalidInput.field(ORDERBY, f"cannot sort by {path}; use one of {', '.join(SORTS)}")
    descending = bool(direction) and str(direction[0]).lower() == "desc"
    return ("-" if descending else "+") + SORTS[path]


@functools.cache
def _lark(start: str) -> Lark:
    # one parser per start rule: shared LALR states would list the other's tokens as expected
    text = resources.files("muster.compat.sentinel").joinpath("odata.lark").read_text("utf-8")
    return Lark(text, parser="lalr", start=start, maybe_placeholders=False)


def _parse(text: str, start: str, param: str) -> Any:
    try:
        return _lark(start).parse(text)
    except UnexpectedInput as exc:
        raise InvalidInput.field(param, _syntax_message(exc, text)) from None


_TERMINALS = {
    "NAME": "a property",
    "OPERATOR": "an operator (eq ne gt ge lt le)",
    "STRING": "a 'quoted string'",
    "DATETIME": "a date-time",
    "NUMBER": "a number",
    "DIRECTION": "asc or desc",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "SLASH": "'/'",
    "_AND": "and",
    "_OR": "or",
    "_IN": "in",
    "_NOT": "not",
    "_NULL": "null",
    "_TRUE": "true",
    "_FALSE": "false",
    "$END": "the end",
}


def _syntax_message(exc: UnexpectedInput, text: str) -> str:
    token = getattr(exc, "token", None)
    if isinstance(token, Token) and token.type == "$END":
        found, column = "the end", len(text) + 1
    else:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        found = repr(text[pos : pos + 20]) if pos < len(text) else "the end"
        column = getattr(exc, "column", pos + 1)
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    names = sorted({_TERMINALS.get(name, name) for name in expected})
    hint = f"; expected {', '.join(names)}" if names else ""
    return f"unexpected {found} at column {column}{hint}"


def _path(member: Any) -> str:
    return "/".join(str(token) for token in member.children)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def _field(path: str) -> Field:
    found = FIELDS.get(path)
    if found is None:
        raise InvalidInput.field(FILTER, f"cannot filter on {path}; use one of {', '.join(FIELDS)}")
    return found


@v_args(inline=True)
class _Translate(Transformer[Token, str]):
    """OData tree -> muster filter text, fully parenthesised."""

    def or_expr(self, *parts: str) -> str:
        return "(" + " or ".join(parts) + ")"

    def and_expr(self, *parts: str) -> str:
        return "(" + " and ".join(parts) + ")"

    def negation(self, inner: str) -> str:
        return f"not ({inner})"

    def member(self, *names: Token) -> str:
        return "/".join(str(name) for name in names)

    def string(self, token: Token) -> Literal:
        return Literal(str(token)[1:-1].replace("''", "'"), "string")

    def datetime(self, token: Token) -> Literal:
        return Literal(str(token), "datetime")

    def number(self, token: Token) -> Literal:
        text = str(token)
        return Literal(float(text) if "." in text else int(text), "number")

    def null(self) -> Literal:
        return Literal(None, "null")

    def true(self) -> Literal:
        return Literal(True, "bool")

    def false(self) -> Literal:
        return Literal(False, "bool")

    def compare(self, path: str, operator: Token, literal: Literal) -> str:
        field, op = _field(path), str(operator).lower()
        if op not in ("eq", "ne") and field.kind not in _ORDERED:
            raise InvalidInput.field(FILTER, f"{path} supports eq, ne and in, not {op}")
        if literal.value is None:
            if op not in ("eq", "ne"):
                raise InvalidInput.field(FILTER, f"null compares only with eq and ne ({path})")
            return f"{field.target} {'=' if op == 'eq' else '!='} null"
        if field.kind is Kind.CLASSIFICATION:
            matches = f"{field.target} in ({', '.join(_classification(path, literal))})"
            return matches if op == "eq" else f"not ({matches})"
        value = _value(path, field, literal)
        if op == "ne":  # OData: true when the property is null; muster's != would be false
            return f"not ({field.target} = {value})"
        return f"{field.target} {_OPERATORS[op]} {value}"

    def in_(self, path: str, *literals: Literal) -> str:
        field = _field(path)
        if any(literal.value is None for literal in literals):
            raise InvalidInput.field(FILTER, f"in (...) takes no null ({path}); use eq null")
        if field.kind is Kind.CLASSIFICATION:
            values = [v for literal in literals for v in _classification(path, literal)]
        else:
            values = [_value(path, field, literal) for literal in literals]
        return f"{field.target} in ({', '.join(dict.fromkeys(values))})"

    def call(self, name: Token, path: str, literal: Literal) -> str:
        function = str(name).lower()
        if function not in _FUNCTIONS:
            raise InvalidInput.field(
                FILTER, f"unknown function {name}; use one of {', '.join(_FUNCTIONS)}"
            )
        field = _field(path)
        if field.kind not in _TEXTUAL:
            raise InvalidInput.field(FILTER, f"{function} needs a text property, not {path}")
        if not isinstance(literal.value, str) or literal.written != "string":
            raise InvalidInput.field(FILTER, f"{function} needs a quoted string")
        text = literal.value.lower() if field.kind is Kind.EMAIL else literal.value
        if function == "contains":
            return f"{field.target} contains {_quote(text)}"
        pattern = "^" + re.escape(text) if function == "startswith" else re.escape(text) + "$"
        return f"{field.target} matches {_quote(pattern)}"


def _value(path: str, field: Field, literal: Literal) -> str:
    value, written = literal.value, literal.written
    if field.kind is Kind.TIME:
        if not isinstance(value, str) or written not in ("datetime", "string"):
            raise InvalidInput.field(
                FILTER, f"{path} compares with a date-time, e.g. 2024-01-01T00:00:00Z"
            )
        return _quote(_time(path, value).isoformat())
    if field.kind is Kind.NUMBER:
        if written != "number" or not isinstance(value, int):
            raise InvalidInput.field(FILTER, f"{path} compares with a whole number")
        return str(value)
    if written != "string" or not isinstance(value, str):
        raise InvalidInput.field(FILTER, f"{path} compares with a quoted string, e.g. 'x'")
    if field.kind is Kind.STATUS:
        return _quote(status_from_name(value, FILTER))
    if field.kind is Kind.SEVERITY:
        return str(severity_from_name(value, FILTER))
    return _quote(value.lower() if field.kind is Kind.EMAIL else value)


def _time(path: str, value: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(value.upper().replace("Z", "+00:00")))
    except ValueError:
        raise InvalidInput.field(FILTER, f"{value!r} is not a date-time ({path})") from None


def _classification(path: str, literal: Literal) -> list[str]:
    if literal.written != "string" or not isinstance(literal.value, str):
        raise InvalidInput.field(
            FILTER, f"{path} compares with a quoted string, e.g. 'TruePositive'"
        )
    wanted = literal.value.strip().casefold()
    found = [
        _quote(str(resolution))
        for resolution in Resolution
        if (classification_name(resolution) or "").casefold() == wanted
    ]
    if not found:
        raise InvalidInput.field(
            FILTER,
            f"{literal.value!r} is not a classification; use TruePositive, BenignPositive, "
            "FalsePositive or Undetermined",
        )
    return found
