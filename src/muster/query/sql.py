"""The SQL back end: a syntax tree as a SQLAlchemy boolean for the alert and incident lists.

Every condition compiles to a two-valued expression (explicit IS NOT NULL guards, COALESCE on
JSON paths), so `not` never meets SQL's three-valued logic and the result agrees with
`muster.query.evaluate` on SQLite (JSON1) and PostgreSQL (jsonb).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import CIDR, JSONB

from muster.models import Alert, Incident
from muster.query.evaluate import resolve_time
from muster.query.fields import Bound, Kind, Subject, bind, parse_network
from muster.query.tree import NEGATED, And, Expr, Not, Or

Clause = ColumnElement[bool]
Value = ColumnElement[Any]
_MODELS: dict[Subject, Any] = {Subject.ALERT: Alert, Subject.INCIDENT: Incident}


def to_sql(tree: Expr, subject: Subject, dialect: str, now: datetime | None = None) -> Clause:
    """The WHERE clause selecting exactly the rows `compile_predicate(tree)` accepts."""
    return _Compiler(subject, dialect, now or datetime.now(UTC)).expr(tree)


class _Compiler:
    def __init__(self, subject: Subject, dialect: str, now: datetime) -> None:
        self.subject, self.pg, self.now = subject, dialect == "postgresql", now

    def expr(self, tree: Expr) -> Clause:
        """The clause for a node."""
        if isinstance(tree, And):
            return and_(*(self.expr(item) for item in tree.items))
        if isinstance(tree, Or):
            return or_(*(self.expr(item) for item in tree.items))
        if isinstance(tree, Not):
            return not_(self.expr(tree.item))
        b = bind(tree, self.subject)
        clause = self.condition(b)
        if not b.via_alerts:
            return clause
        some = select(Alert.id).where(Alert.incident_id == Incident.id, clause)
        return some.correlate(Incident).exists()

    def condition(self, b: Bound) -> Clause:
        """One bound condition on the alert or incident row."""
        model = Alert if b.via_alerts else _MODELS[self.subject]
        kind = b.field.kind
        if kind is Kind.JSON:
            return self.json(b)
        if kind in (Kind.LIST, Kind.ENTITY):
            return self.many(b, getattr(model, b.field.attr))
        col = getattr(model, b.field.attr)
        op = b.cond.op
        present: Clause = col.is_not(None) if b.field.nullable else true()
        if op == "exists":
            return present
        if b.cond.value is None and op in ("=", "!="):
            null: Clause = col.is_(None) if op == "=" else col.is_not(None)
            return null
        positive = self.test(b, NEGATED.get(op, op), col, lambda v: v)
        return and_(present, not_(positive) if op in NEGATED else positive)

    def test(self, b: Bound, op: str, value: Value, typed: Callable[[Any], Any]) -> Clause:
        """The positive test of a present value (`typed` adapts literals to the column)."""
        cond = b.cond
        if op == "contains":
            needle = str(cond.value).lower()
            pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return func.lower(value).like(pattern + "%", escape="\\")
        if op == "matches":
            return value.regexp_match(str(cond.value))
        if op == "incidr":
            net = str(parse_network(str(cond.value)))
            cidr: Value = cast(literal(net), CIDR) if self.pg else literal(net)
            return (
                func.muster_incidr(value, cidr).is_(True)
                if self.pg
                else func.muster_incidr(value, cidr) == 1
            )
        if op == "in":
            return or_(
                false(),
                *(self.compare(b, "=", value, v, typed) for v in cond.values if v is not None),
            )
        return self.compare(b, op, value, cond.value, typed)

    def compare(
        self, b: Bound, op: str, value: Value, literal_: Any, typed: Callable[[Any], Any]
    ) -> Clause:
        """`value op literal`, a time literal resolved against `now`."""
        if b.field.kind is Kind.TIME:
            literal_ = resolve_time(literal_, self.now)
        right = typed(literal_)
        ops: dict[str, Callable[[Any, Any], Clause]] = {
            "=": lambda a, c: a == c,
            "!=": lambda a, c: a != c,
            ">": lambda a, c: a > c,
            "<": lambda a, c: a < c,
            ">=": lambda a, c: a >= c,
            "<=": lambda a, c: a <= c,
        }
        return ops[op](value, right)

    def many(self, b: Bound, col: Value) -> Clause:
        """Tags and entities: some element satisfies the operator (negated: none does)."""
        op = b.cond.op
        each, elem, extra = self.elements(b, col)
        if op == "exists" or (b.cond.value is None and op in ("=", "!=") and not b.cond.values):
            any_: Clause = (
                select(literal(1)).select_from(each).where(elem.is_not(None), *extra).exists()
            )
            return not_(any_) if op == "=" else any_
        positive = self.test(b, NEGATED.get(op, op), elem, lambda v: v)
        query = select(literal(1)).select_from(each).where(elem.is_not(None), *extra, positive)
        some: Clause = query.exists()
        return not_(some) if op in NEGATED else some

    def elements(self, b: Bound, col: Value) -> tuple[Any, Value, list[Clause]]:
        """The table of elements, the element's value, and conditions on the element."""
        if b.field.kind is Kind.LIST:
            fn = func.json_array_elements_text if self.pg else func.json_each
            each = fn(col).table_valued("value").alias()
            return each, each.c.value, []
        kind: Value
        value: Value
        if self.pg:
            each = func.json_array_elements(col).table_valued("value").alias()
            kind = each.c.value.op("->>", return_type=Text)("type")
            value = each.c.value.op("->>", return_type=Text)("value")
        else:
            each = func.json_each(col).table_valued("value").alias()
            kind = func.json_extract(each.c.value, "$.type")
            value = func.json_extract(each.c.value, "$.value")
        return each, value, [kind == str(b.tail[0])]

    def json(self, b: Bound) -> Clause:
        """A raw path: present, and of the literal's JSON type, then compared."""
        raw = Alert.raw
        if self.pg:
            node: Value = cast(raw, JSONB)
            for part in b.tail:
                step = literal_column(str(part)) if isinstance(part, int) else literal(part, Text)
                node = node.op("->", return_type=JSONB)(step)
            jtype: Value = func.jsonb_typeof(node)
            text: Value = node.op("#>>", return_type=Text)(literal_column("'{}'"))
        else:
            path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in b.tail)
            jtype = func.json_type(raw, path)
            text = func.json_extract(raw, path)
        present = and_(jtype.is_not(None), jtype != "null")
        op = b.cond.op
        if op == "exists" or (b.cond.value is None and op in ("=", "!=")):
            return not_(present) if op == "=" else present
        positive = func.coalesce(self.json_test(b, NEGATED.get(op, op), jtype, text), false())
        return and_(present, not_(positive) if op in NEGATED else positive)

    def json_test(self, b: Bound, op: str, jtype: Value, text: Value) -> Clause:
        """The typed test of a present raw value."""
        if op == "in":
            tests = [
                self.json_compare(b, "=", jtype, text, v) for v in b.cond.values if v is not None
            ]
            return or_(false(), *tests)
        if op in ("contains", "matches", "incidr"):
            return and_(
                jtype == ("string" if self.pg else "text"), self.test(b, op, text, lambda v: v)
            )
        return self.json_compare(b, op, jtype, text, b.cond.value)

    def json_compare(self, b: Bound, op: str, jtype: Value, text: Value, value: Any) -> Clause:
        """Compare with a literal of the same JSON type only."""
        if isinstance(value, bool):
            if self.pg:
                return and_(
                    jtype == "boolean",
                    self.compare(b, op, text, "true" if value else "false", lambda v: v),
                )
            word = "true" if value else "false"
            return and_(jtype.in_(("true", "false")), self.compare(b, op, jtype, word, lambda v: v))
        if isinstance(value, int | float):
            if self.pg:
                number = case((jtype == "number", cast(text, Numeric)))
                return and_(jtype == "number", self.compare(b, op, number, value, lambda v: v))
            return and_(
                jtype.in_(("integer", "real")), self.compare(b, op, text, value, lambda v: v)
            )
        is_string = jtype == ("string" if self.pg else "text")
        return and_(is_string, self.compare(b, op, text, value, lambda v: v))
