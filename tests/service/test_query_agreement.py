"""The SQL back end and the Python back end of the filter language agree (hypothesis).

Alerts are stored through the real ingest service; for each generated expression the ids the
SQL filter selects must be exactly the ids whose API view the Python predicate accepts, on
SQLite and on PostgreSQL. Regexes stay in the subset both engines read alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import undefer
from tests.factories import TenantKeys

from muster.alerts.ingest import ingest
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import Actor
from muster.models import Alert, Incident
from muster.query import ALERT_FIELDS, INCIDENT_FIELDS, Subject, compile_predicate, parse
from muster.query.sql import to_sql

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACTOR = Actor("apikey", "agreement", "agreement test")
WORDS = ["ws-1", "WS-2", "db_01", "a%b", "ws", "1", "_", "%", "Ws-1"]
IPS = ["10.1.2.3", "192.168.0.9", "2001:db8::1", "nope", "10.200.0.1"]
NETS = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "0.0.0.0/0", "10.1.2.3/32"]
REGEXES = ["^ws", "1$", "w.-", "[a-d]", "^(db|ws)_?0?1", "b"]
RAW_VALUES: list[Any] = ["cmd.exe", "CMD.EXE", 3, 2.5, True, False, None, "3", [1], {"a": 1}]

quoted = st.sampled_from(WORDS).map(lambda w: f'"{w}"')


def _text_atoms(field: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.sampled_from(["=", "!=", "contains", "not contains"]), quoted).map(
            lambda t: f"{field} {t[0]} {t[1]}"
        ),
        st.sampled_from(REGEXES).map(lambda r: f'{field} matches "{r}"'),
        st.lists(quoted, min_size=1, max_size=3).map(lambda v: f"{field} in ({', '.join(v)})"),
        st.lists(quoted, min_size=1, max_size=2).map(lambda v: f"{field} not in ({', '.join(v)})"),
        st.just(f"{field} exists"),
        st.just(f"{field} = null"),
    )


ORDER = st.sampled_from(["=", "!=", ">", "<", ">=", "<="])
RAW_NUMBERS = st.sampled_from(["3", "2.5", "0", "-1"])
RAW_LITERALS = st.sampled_from(['"cmd.exe"', '"3"', "3", "2.5", "true", "false", "0"])


def _raw_atoms(path: str) -> st.SearchStrategy[str]:
    """Raw comparisons: any literal for = and !=, numbers for ordering (as the checker wants)."""
    return st.one_of(
        st.tuples(st.sampled_from(["=", "!="]), RAW_LITERALS).map(
            lambda t: f"{path} {t[0]} {t[1]}"
        ),
        st.tuples(ORDER, RAW_NUMBERS).map(lambda t: f"{path} {t[0]} {t[1]}"),
    )


atoms = st.one_of(
    st.tuples(ORDER, st.integers(0, 4)).map(lambda t: f"severity {t[0]} {t[1]}"),
    _text_atoms("hostname"),
    _text_atoms("source"),
    _text_atoms("tags"),
    _text_atoms("entity.host"),
    st.tuples(ORDER, st.integers(1, 60)).map(lambda t: f"createdAt {t[0]} -{t[1]}h"),
    st.tuples(st.sampled_from(["incidr", "not incidr"]), st.sampled_from(NETS)).map(
        lambda t: f'srcIp {t[0]} "{t[1]}"'
    ),
    st.just("srcIp exists"),
    _raw_atoms("raw.process.name"),
    st.sampled_from(
        ['raw.process.name contains "cmd"', "raw.process.name exists", "raw.process.name = null"]
    ),
)
expressions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
        inner.map(lambda e: f"not ({e})"),
    ),
    max_leaves=5,
)


@st.composite
def alerts(draw: st.DrawFn) -> dict[str, Any]:
    """One alert payload over the fields the expressions use."""
    payload: dict[str, Any] = {
        "ruleName": "agreement",
        "externalId": uuid.uuid4().hex,
        "source": draw(st.sampled_from(["Defender", "defender", "ws-1"])),
        "severity": draw(st.integers(0, 4)),
        "createdAt": (NOW - timedelta(minutes=draw(st.integers(0, 3600)))).isoformat(),
        "tags": draw(st.lists(st.sampled_from(WORDS), max_size=3, unique=True)),
        "entities": [
            {"type": kind, "value": draw(st.sampled_from(WORDS))}
            for kind in draw(st.lists(st.sampled_from(["host", "ip"]), max_size=3))
        ],
    }
    for name, choices in (("hostname", WORDS), ("srcIp", IPS)):
        if draw(st.booleans()):
            payload[name] = draw(st.sampled_from(choices))
    if draw(st.booleans()):
        payload["process"] = {"name": draw(st.sampled_from(RAW_VALUES))}
    return payload


def _view(alert: Alert) -> dict[str, Any]:
    """The stored alert as the Python back end sees it (API names, raw, entities)."""
    view = {api: getattr(alert, spec.attr) for api, spec in ALERT_FIELDS.items()}
    view["entities"] = alert.entities
    view["raw"] = alert.raw
    return view


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(alerts(), min_size=1, max_size=8), text=expressions)
def test_sql_and_python_select_the_same_alerts(
    db: Database, tenant: TenantKeys, batch: list[dict[str, Any]], text: str
) -> None:
    tree = parse(text)
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        report = ingest(session, batch, ACTOR, NOW)
    ids = [item.alert_id for item in report.items]
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        dialect = session.get_bind().dialect.name
        where = to_sql(tree, Subject.ALERT, dialect, NOW)
        by_sql = set(session.scalars(select(Alert.id).where(Alert.id.in_(ids), where)))
        rows = session.scalars(
            select(Alert).where(Alert.id.in_(ids)).options(undefer(Alert.raw))
        ).all()
        predicate = compile_predicate(tree, Subject.ALERT, NOW)
        by_python = {row.id for row in rows if predicate(_view(row))}
    assert by_sql == by_python, (text, dialect)


incident_atoms = st.one_of(
    st.tuples(ORDER, st.integers(0, 4)).map(lambda t: f"severity {t[0]} {t[1]}"),
    st.sampled_from(['status = "OPEN"', 'status != "RESOLVED"', "assignee = null"]),
    st.tuples(ORDER, st.integers(1, 4)).map(lambda t: f"alertCount {t[0]} {t[1]}"),
    _text_atoms("alerts.hostname"),
    st.tuples(ORDER, st.integers(0, 4)).map(lambda t: f"alerts.severity {t[0]} {t[1]}"),
    _raw_atoms("alerts.raw.process.name"),
    st.just('alerts.entity.host contains "ws"'),
)
incident_expressions = st.recursive(
    incident_atoms,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
        inner.map(lambda e: f"not ({e})"),
    ),
    max_leaves=4,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(alerts(), min_size=1, max_size=8), text=incident_expressions)
def test_sql_and_python_select_the_same_incidents(
    db: Database, tenant: TenantKeys, batch: list[dict[str, Any]], text: str
) -> None:
    tree = parse(text)
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        report = ingest(session, batch, ACTOR, NOW)
    ids = {item.incident_id for item in report.items}
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        dialect = session.get_bind().dialect.name
        where = to_sql(tree, Subject.INCIDENT, dialect, NOW)
        by_sql = set(session.scalars(select(Incident.id).where(Incident.id.in_(ids), where)))
        predicate = compile_predicate(tree, Subject.INCIDENT, NOW)
        by_python = set()
        for incident in session.scalars(select(Incident).where(Incident.id.in_(ids))):
            members = session.scalars(
                select(Alert).where(Alert.incident_id == incident.id).options(undefer(Alert.raw))
            )
            view = {api: getattr(incident, spec.attr) for api, spec in INCIDENT_FIELDS.items()}
            view["alerts"] = [_view(a) for a in members]
            if predicate(view):
                by_python.add(incident.id)
    assert by_sql == by_python, (text, dialect)
