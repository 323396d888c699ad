"""The filter language under hostile input (hypothesis): any text either parses or fails with
the documented `QueryError` (a `query.*` code with line and column), and an accepted filter
compiles, evaluates in Python and runs as SQL on SQLite without any other exception.

Text comes three ways: any characters; words of the language in random order; and filters
shaped by the grammar with hostile leaves (huge numbers and relative times, far-off dates,
deep nesting, long paths, costly regular expressions, odd strings). The SQL runs on a migrated
SQLite database of its own holding alerts with odd raw payloads, so functions (REGEXP, JSON
paths, muster_incidr) meet real values. Hypothesis runs derandomized: CI sees the same cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.alerts.ingest import ingest
from muster.compat.sentinel.odata import filter_expression, native_sort
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from muster.errors import InvalidInput
from muster.incidents.lifecycle import Actor
from muster.models import Alert, Incident
from muster.query import ALERT_FIELDS, INCIDENT_FIELDS, QueryError, Subject, compile_predicate
from muster.query import parse as parse_filter
from muster.query.sql import to_sql
from tests.conftest import fresh_database_url
from tests.factories import make_tenant
from tests.hostile.recursion import server_stack

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CODES = {
    "query.syntax_error",
    "query.too_long",
    "query.too_deep",
    "query.unknown_field",
    "query.type_mismatch",
    "query.bad_regex",
    "query.bad_cidr",
    "query.out_of_range",
}
FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# values the alerts and incidents evaluated in Python hold (API names, as the lists show them)
ALERT_VIEWS: list[dict[str, Any]] = [
    {
        "ruleName": "r",
        "severity": 3,
        "hostname": "ws-1",
        "srcIp": "10.1.2.3",
        "tags": ["a", None],
        "createdAt": NOW,
        "entities": [{"type": "host", "value": "ws-1"}, {"type": "ip"}, "junk"],
        "raw": {"a": [1, {"b": "x"}], "n": 2**70, "s": "ünï", "t": True, "z": None},
    },
    {"ruleName": "", "severity": None, "createdAt": "not a time", "raw": [1, 2], "entities": None},
    {},
]
INCIDENT_VIEWS: list[dict[str, Any]] = [
    {"severity": 2, "status": "OPEN", "createdAt": NOW, "alerts": ALERT_VIEWS},
    {"alerts": None},
    {},
]
# raw payloads of the stored alerts
RAW: list[dict[str, Any]] = [
    {"process": {"name": "cmd.exe", "pid": 4}, "list": [1, "two", None, {"x": [3]}]},
    {"process": "flat", "big": 2**70, "float": 1.5e300, "uni": "ẞ\u202e", "deep": [[[[[1]]]]]},
    {"list": [], "empty": {}, "bool": False},
]

FIELDS = [*ALERT_FIELDS, *INCIDENT_FIELDS, "alerts.hostname", "alerts.raw.process.name"]
PATHS = st.one_of(
    st.sampled_from(FIELDS),
    st.sampled_from(["raw", "entity", "alerts", "memory"]).flatmap(
        lambda head: st.lists(
            st.one_of(
                st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z"),
                st.integers(0, 2**70).map(lambda i: f"[{i}]"),
            ),
            min_size=1,
            max_size=6,
        ).map(lambda parts: head + "".join(p if p.startswith("[") else "." + p for p in parts))
    ),
    st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z"),
)
NUMBERS = st.one_of(
    st.integers(-(2**80), 2**80).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        ["1e400", "-1e400", "1e-400", "0.0", "-0", "007", "9" * 40, str(2**63), str(-(2**63) - 1)]
    ),
)
RELTIMES = st.tuples(st.sampled_from("+-"), st.integers(0, 10**30), st.sampled_from("smhdw")).map(
    lambda t: f"{t[0]}{t[1]}{t[2]}"
)
TIMES = st.sampled_from(
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "2026-11-24T08:00:00Z",
        "2026-02-30",
        "2026-11-24T08:00:00.123456789+05:30",
    ]
)
REGEXES = st.one_of(
    st.sampled_from(
        [
            "(a+)+$",
            "(a{255}){255}",
            "((a{100}){100}){100}",
            "(a{65535}){65535}",
            "a{1,65535}",
            "(?:x{e<=2})",
            "\\p{L}+",
            "(?<=a)b",
            "(a|aa)*c",
            "[",
            "a{,5}",
            "\\",
            "(?P<n>a)(?P=n)",
        ]
    ),
    st.text(alphabet="a()[]{}+*?|^$\\.,0123456789e<=:P!", max_size=40),
    # nested counted repeats: what compiling multiplies out
    st.recursive(
        st.sampled_from(["a", "[ab]", "\\d", "(?:a|b)"]),
        lambda inner: st.tuples(inner, st.integers(0, 70_000)).map(lambda t: f"({t[0]}){{{t[1]}}}"),
        max_leaves=4,
    ),
)
STRINGS = st.one_of(
    st.text(max_size=20),
    TIMES,
    REGEXES,
    st.sampled_from(["10.0.0.0/8", "::/0", "10.0.0.0/33", "fe80::1%eth0/64", "", "%", "_"]),
)


def quote(text: str) -> str:
    """A string literal of the language holding `text` (newlines escaped)."""
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{body}"'


VALUES = st.one_of(
    NUMBERS,
    RELTIMES,
    STRINGS.map(quote),
    st.sampled_from(["true", "FALSE", "null", "now()", "NOW ( )"]),
)
OPERATORS = st.sampled_from(
    ["=", "!=", ">", "<", ">=", "<=", "contains", "not contains", "matches", "~=", "incidr"]
)
ORDERING = st.sampled_from(["=", "!=", ">", "<", ">=", "<="])
TEXT_OPS = st.sampled_from(["=", "!=", "contains", "not contains", "matches", "~="])
IN_LISTS = st.tuples(
    st.sampled_from(["in", "not in", "NOT IN"]), st.lists(VALUES, min_size=1, max_size=4)
)


def typed(fields: list[str], ops: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> Any:
    """Conditions on `fields` with operators and values of their type (they mostly bind)."""
    if not fields:
        return st.nothing()
    return st.tuples(st.sampled_from(fields), ops, values).map(" ".join)


def kinds(catalogue: Any, *wanted: str) -> list[str]:
    """The catalogue's fields of the given kinds."""
    return [name for name, spec in catalogue.items() if spec.kind in wanted]


RAW_PATHS = PATHS.filter(lambda p: p.startswith("raw"))


def conditions(catalogue: Any, prefix: str = "") -> st.SearchStrategy[str]:
    """Conditions over one subject's fields: typed ones mostly, any combination sometimes."""
    fields = lambda *wanted: [prefix + f for f in kinds(catalogue, *wanted)]  # noqa: E731
    raw = [prefix + "raw"] if catalogue is ALERT_FIELDS else []
    return st.one_of(
        typed(fields("number"), ORDERING, NUMBERS),
        typed(fields("time"), ORDERING, st.one_of(RELTIMES, TIMES.map(quote), st.just("now()"))),
        typed(fields("string", "list"), TEXT_OPS, STRINGS.map(quote)),
        typed(fields("bool"), st.sampled_from(["=", "!="]), st.sampled_from(["true", "false"])),
        typed(fields("string"), st.sampled_from(["incidr", "not incidr"]), STRINGS.map(quote)),
        typed(
            [*fields("string", "number"), *raw],
            st.just(""),
            IN_LISTS.map(lambda t: f"{t[0]} ({', '.join(t[1])})"),
        ),
        st.tuples(RAW_PATHS, OPERATORS, VALUES).map(lambda t: f"{prefix}{t[0]} {t[1]} {t[2]}")
        if raw
        else st.nothing(),
        st.tuples(st.sampled_from(["host", "ip", "file", "x"]), TEXT_OPS, STRINGS.map(quote)).map(
            lambda t: f"{prefix}entity.{t[0]} {t[1]} {t[2]}"
        )
        if raw
        else st.nothing(),
        st.tuples(PATHS, OPERATORS, VALUES).map(" ".join),
        PATHS.map(lambda p: f"{p} exists"),
    )


def expressions(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Leaves combined with and, or, not and parentheses."""
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda e: f"not {e}"),
            inner.map(lambda e: f"({e})"),
        ),
        max_leaves=6,
    )


ALERT_FILTERS = expressions(conditions(ALERT_FIELDS))
INCIDENT_FILTERS = expressions(
    st.one_of(conditions(INCIDENT_FIELDS), conditions(ALERT_FIELDS, prefix="alerts."))
)
NESTING = st.sampled_from(["not ", "NOT(", "hostname exists and (", "(srcIp exists or "])
WORDS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "(",
                ")",
                ",",
                "and",
                "or",
                "not",
                "in",
                "exists",
                "matches",
                "~=",
                "incidr",
                "contains",
                "now()",
                "=",
                "!=",
                ">=",
                "<",
                "severity",
                "raw.x[1]",
                "'",
                '"',
                "\\",
            ]
        ),
        VALUES,
        PATHS,
    ),
    max_size=12,
).map(" ".join)


def parsed_or_query_error(text: str) -> Any:
    """The tree, or None after checking the failure is the documented QueryError."""
    try:
        return parse_filter(text)
    except QueryError as exc:
        assert_query_error(exc)
        return None


def assert_query_error(exc: QueryError) -> None:
    """A filter error as docs/query-language.md describes it."""
    assert exc.code in CODES, exc.code
    first = exc.errors[0]
    assert first["field"] == "filter" and first["message"]
    assert first["line"] >= 1 and first["column"] >= 1


@FUZZ
@given(text=st.one_of(st.text(max_size=200), WORDS))
def test_any_text_parses_or_fails_with_a_query_error(text: str) -> None:
    parsed_or_query_error(text)


@pytest.fixture(scope="module")
def filter_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, uuid.UUID]]:
    """A migrated SQLite database of its own with one tenant's alerts (odd raw payloads)."""
    with fresh_database_url("sqlite", "hostile_filter", tmp_path_factory) as url:
        settings_ = Settings(database_url=url)
        upgrade(settings_)
        db = create_db_engine(settings_)
        tenant = make_tenant(db)
        actor = Actor("apikey", "fuzz", "filter fuzz")
        payloads = [
            {
                "ruleName": f"r{i}",
                "source": "fuzz",
                "hostname": f"ws-{i}",
                "srcIp": "10.0.0.1",
                "tags": ["a", "b"],
                "entities": [{"type": "host", "value": f"ws-{i}"}],
                **raw,
            }
            for i, raw in enumerate(RAW)
        ]
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            ingest(session, payloads, actor, NOW)
        yield db, tenant.id
        db.dispose()


def run_sql(session: Session, tree: Any, subject: Subject) -> None:
    """Compile the filter for `subject` and run it on the database (QueryError allowed)."""
    model = Alert if subject is Subject.ALERT else Incident
    try:
        where = to_sql(tree, subject, "sqlite", NOW)
    except QueryError as exc:
        assert_query_error(exc)
        return
    session.scalars(select(model.id).where(where).limit(10)).all()


def evaluate(tree: Any, subject: Subject, items: list[dict[str, Any]]) -> None:
    """Compile the filter to a Python predicate and apply it (QueryError allowed)."""
    try:
        predicate = compile_predicate(tree, subject, NOW)
    except QueryError as exc:
        assert_query_error(exc)
        return
    for item in items:
        assert isinstance(predicate(item), bool)


@FUZZ
@given(text=st.one_of(ALERT_FILTERS, INCIDENT_FILTERS))
def test_grammar_shaped_filters_evaluate_and_run_on_sqlite(
    filter_db: tuple[Database, uuid.UUID], text: str
) -> None:
    run_everywhere(filter_db, text)


@FUZZ
@given(
    text=st.one_of(
        conditions(ALERT_FIELDS),
        conditions(INCIDENT_FIELDS),
        conditions(ALERT_FIELDS, prefix="alerts."),
    )
)
def test_single_conditions_with_edge_literals_evaluate_and_run_on_sqlite(
    filter_db: tuple[Database, uuid.UUID], text: str
) -> None:
    run_everywhere(filter_db, text)


@FUZZ
@given(unit=NESTING, levels=st.one_of(st.integers(0, 64), st.integers(900, 1000)))
def test_deeply_nested_filters_evaluate_and_run_on_sqlite(
    filter_db: tuple[Database, uuid.UUID], unit: str, levels: int
) -> None:
    closing = ")" * levels if "(" in unit else ""
    run_everywhere(filter_db, unit * levels + "hostname exists" + closing)


def run_everywhere(filter_db: tuple[Database, uuid.UUID], text: str) -> None:
    """Parse `text`; if it is a filter, evaluate it on alerts, incidents and a playbook's
    process, and run it as SQL over alerts and incidents, in a server's recursion room."""
    with server_stack():
        check_everywhere(filter_db, text)


def check_everywhere(filter_db: tuple[Database, uuid.UUID], text: str) -> None:
    """`run_everywhere` itself."""
    tree = parsed_or_query_error(text)
    if tree is None:
        return
    evaluate(tree, Subject.ALERT, ALERT_VIEWS)
    evaluate(tree, Subject.INCIDENT, INCIDENT_VIEWS)
    evaluate(tree, Subject.PROCESS, [{**INCIDENT_VIEWS[0], "memory": {"k": [1]}}])
    db, tenant_id = filter_db
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        run_sql(session, tree, Subject.ALERT)
        run_sql(session, tree, Subject.INCIDENT)


@FUZZ
@given(pattern=REGEXES, field=st.sampled_from(["hostname", "tags", "raw.process.name"]))
def test_costly_regular_expressions_are_refused_or_run(
    filter_db: tuple[Database, uuid.UUID], pattern: str, field: str
) -> None:
    run_everywhere(filter_db, f"{field} matches {quote(pattern)}")
    run_everywhere(filter_db, f"alerts.{field} ~= {quote(pattern)}")


ODATA_WORDS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "properties/severity",
                "properties/status",
                "properties/createdTimeUtc",
                "eq",
                "ne",
                "gt",
                "and",
                "or",
                "not",
                "(",
                ")",
                "'High'",
                "'x''y'",
                "datetime'2026-01-01'",
                "contains(",
                "startswith(",
                ",",
                "null",
                "true",
                "asc",
                "desc",
                "properties/title",
            ]
        ),
        NUMBERS,
        STRINGS.map(lambda s: "'" + s.replace("'", "''") + "'"),
    ),
    max_size=10,
).map(" ".join)


@FUZZ
@given(text=st.one_of(st.text(max_size=120), ODATA_WORDS))
def test_sentinel_odata_translates_or_fails_with_invalid_input(text: str) -> None:
    for translate in (filter_expression, native_sort):
        try:
            native = translate(text)
        except InvalidInput as exc:
            assert exc.errors and exc.errors[0]["field"] in {"$filter", "$orderby"}, exc.errors
            continue
        if translate is filter_expression:  # the native filter it became is valid
            parse_filter(native)
