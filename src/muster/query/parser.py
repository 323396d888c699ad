"""Text to syntax tree: the LALR grammar in `grammar.lark`, positions kept for errors."""

from __future__ import annotations

import functools
import math
import re
from datetime import timedelta
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, v_args

from muster.query.errors import QueryError, query_error
from muster.query.tree import (
    And,
    Condition,
    Expr,
    Not,
    Or,
    Path,
    PathPart,
    RelTime,
    Scalar,
    depth,
)

MAX_LENGTH = 4000
MAX_DEPTH = 32  # nested and/or/not levels: both back ends compile the tree recursively
MAX_RELATIVE = timedelta(days=36_525)  # a relative time reaches a century back or ahead
MAX_INDEX = 2**31 - 1  # a list index in a path (`raw.list[3]`)
MAX_INTEGER = 2**63 - 1  # numbers compare with 64-bit database columns
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_NAMES = {
    "PATH": "a field",
    "STRING": "a string",
    "NUMBER": "a number",
    "RELTIME": "a relative time (-24h)",
    "COMPARE": "a comparison (= != > < >= <=)",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "$END": "the end",
}


@functools.cache
def _lark() -> Lark:
    text = resources.files("muster.query").joinpath("grammar.lark").read_text("utf-8")
    # the transformer runs inside the LALR parser: no intermediate parse tree is built
    return Lark(
        text,
        parser="lalr",
        transformer=_Build(),
        propagate_positions=False,
        maybe_placeholders=False,
    )


def parse(text: str, *, field: str = "filter") -> Expr:
    """Parse a filter, or raise `QueryError` (`query.syntax_error`) with line, column, expected."""
    if len(text) > MAX_LENGTH:
        raise query_error(
            "query.too_long", f"a filter holds at most {MAX_LENGTH} characters", field=field
        )
    if not text.strip():
        raise query_error("query.syntax_error", "the filter is empty", field=field)
    try:
        result: Expr = _lark().parse(text)  # type: ignore[assignment]
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, field) from None
    except QueryError as exc:  # a literal out of range, raised while building the tree
        raise _renamed(exc, field) from None
    if depth(result) > MAX_DEPTH:
        raise query_error(
            "query.too_deep", f"and, or and not nest at most {MAX_DEPTH} levels", field=field
        )
    return result


def _renamed(exc: QueryError, field: str) -> QueryError:
    """The error naming `field` as its parameter (the tree builder does not know it)."""
    first = exc.errors[0]
    return query_error(
        exc.code, first["message"], line=first["line"], column=first["column"], field=field
    )


@functools.lru_cache(maxsize=1024)
def parse_cached(text: str) -> Expr:
    """`parse`, remembered per text (grouping rules and playbooks repeat the same filters)."""
    return parse(text)


def _syntax_error(exc: UnexpectedInput, text: str, field: str) -> QueryError:
    expected = sorted(_expected(exc))
    line, column = getattr(exc, "line", 1), getattr(exc, "column", 1)
    at_end = getattr(getattr(exc, "token", None), "type", None) == "$END"
    if at_end or line in (None, -1) or column in (None, -1):  # point after the last character
        line, column = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        found = repr(text[pos]) if pos < len(text) else "the end"
    else:
        token = getattr(exc, "token", None)
        found = repr(str(token)) if token is not None and str(token) else "the end"
    message = f"unexpected {found}"
    if expected:
        message += "; expected " + ", ".join(expected)
    return query_error(
        "query.syntax_error", message, line=line, column=column, field=field, expected=expected
    )


def _expected(exc: UnexpectedInput) -> set[str]:
    names = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or set()
    out = set()
    for name in names:
        if name in _NAMES:
            out.add(_NAMES[name])
        elif name.startswith("_") and name[1:].isalpha():
            out.add(name[1:].lower())
        elif name.startswith("__ANON"):
            continue
        else:
            out.add(name.lower())
    return out


def _path(token: Token) -> Path:
    parts: list[PathPart] = []
    for match in _PART.finditer(str(token)):
        key, index = match.groups()
        if index is not None and int(index) > MAX_INDEX:
            raise _out_of_range(token, f"a list index is at most {MAX_INDEX}")
        parts.append(key if key is not None else int(index))
    return Path(tuple(parts), str(token))


def _out_of_range(token: Token, message: str) -> QueryError:
    return query_error(
        "query.out_of_range", message, line=token.line or 1, column=token.column or 1
    )


def _unquote(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


@v_args(inline=True)
class _Build(Transformer[Token, Expr]):
    """Lark parse tree to `muster.query.tree` nodes."""

    def string(self, tok: Token) -> str:
        return _unquote(str(tok))

    def number(self, tok: Token) -> int | float:
        text = str(tok)
        value = int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
        if not math.isfinite(value) or abs(value) > MAX_INTEGER:
            raise _out_of_range(tok, f"{text} is beyond the numbers a filter compares")
        return value

    def reltime(self, tok: Token) -> RelTime:
        text = str(tok)
        seconds = int(text[:-1]) * UNITS[text[-1]]
        if abs(seconds) > MAX_RELATIVE.total_seconds():
            raise _out_of_range(tok, f"a relative time reaches at most {MAX_RELATIVE.days}d")
        return RelTime(timedelta(seconds=seconds))

    def true(self) -> bool:
        return True

    def false(self) -> bool:
        return False

    def null(self) -> None:
        return None

    def now(self) -> RelTime:
        return RelTime(timedelta(0))

    def negation(self, item: Expr) -> Not:
        return Not(item)

    def or_expr(self, *items: Expr) -> Or:
        return Or(tuple(items))

    def and_expr(self, *items: Expr) -> And:
        return And(tuple(items))

    def compare(self, path: Token, op: Token, value: Scalar) -> Condition:
        return _cond(path, str(op), value)

    def contains(self, path: Token, value: Scalar) -> Condition:
        return _cond(path, "contains", value)

    def not_contains(self, path: Token, value: Scalar) -> Condition:
        return _cond(path, "!contains", value)

    def matches(self, path: Token, value: Scalar) -> Condition:
        return _cond(path, "matches", value)

    def incidr(self, path: Token, value: Scalar) -> Condition:
        return _cond(path, "incidr", value)

    def not_incidr(self, path: Token, value: Scalar) -> Condition:
        return _cond(path, "!incidr", value)

    def exists(self, path: Token) -> Condition:
        return _cond(path, "exists", None)

    def in_(self, path: Token, *values: Scalar) -> Condition:
        return _cond(path, "in", None, values)

    def not_in(self, path: Token, *values: Scalar) -> Condition:
        return _cond(path, "!in", None, values)


def _cond(path: Token, op: str, value: Scalar, values: tuple[Any, ...] = ()) -> Condition:
    return Condition(_path(path), op, value, tuple(values), path.line or 1, path.column or 1)
