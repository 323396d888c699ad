"""The filter language: parser, every operator over plain data, errors, times, bounds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import regex

from muster.query import QueryError, Subject, compile_predicate, parse
from muster.query.evaluate import regex_search
from muster.query.functions import sqlite_incidr, sqlite_regexp
from muster.query.tree import And, Condition, Not, Or, RelTime

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALERT: dict[str, Any] = {
    "ruleName": "Suspicious PowerShell",
    "source": "Defender",
    "severity": 3,
    "hostname": "WS-0142.corp",
    "username": None,
    "srcIp": "10.1.2.3",
    "destIp": "2001:db8::7",
    "tags": ["lateral", "ps"],
    "createdAt": NOW - timedelta(hours=2),
    "entities": [{"type": "host", "value": "ws-1"}, {"type": "ip", "value": "192.0.2.1"}],
    "raw": {"process": {"name": "cmd.exe", "pid": 42}, "Entities": [{"Address": "10.9.9.9"}]},
}
INCIDENT: dict[str, Any] = {
    "status": "OPEN",
    "severity": 4,
    "assignee": None,
    "groupingAllowed": True,
    "createdAt": "2026-11-24T11:00:00Z",
    "alerts": [ALERT, {**ALERT, "hostname": "ws-2"}],
}


def match(text: str, item: dict[str, Any] = ALERT, subject: Subject = Subject.ALERT) -> bool:
    return compile_predicate(parse(text), subject, NOW)(item)


def error(text: str, subject: Subject = Subject.ALERT) -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_predicate(parse(text), subject, NOW)
    return info.value


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    tree = parse("a = 1 or not b = 2 and c = 3")
    assert isinstance(tree, Or)
    right = tree.items[1]
    assert isinstance(right, And) and isinstance(right.items[0], Not)


def test_parses_paths_literals_and_positions() -> None:
    tree = parse('x = 1\n  and raw.Entities[0].Address = "a" and t > -24h and n = null')
    assert isinstance(tree, And)
    cond = tree.items[1]
    assert isinstance(cond, Condition)
    assert cond.path.parts == ("raw", "Entities", 0, "Address")
    assert (cond.line, cond.column) == (2, 7)
    third = tree.items[2]
    assert isinstance(third, Condition) and third.value == RelTime(timedelta(hours=-24))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("severity = 3", True),
        ("severity != 3", False),
        ("severity > 2 and severity < 4 and severity >= 3 and severity <= 3", True),
        ('hostname = "WS-0142.corp"', True),
        ('hostname contains "ws-01"', True),
        ('hostname not contains "WS"', False),
        ('hostname matches "^WS-[0-9]+"', True),
        ('hostname ~= "corp$"', True),
        ('source in ("Defender", "CrowdStrike")', True),
        ('source not in ("Defender")', False),
        ('srcIp incidr "10.0.0.0/8"', True),
        ('srcIp not incidr "10.0.0.0/8"', False),
        ('destIp incidr "2001:db8::/32"', True),
        ('destIp incidr "10.0.0.0/8"', False),
        ("hostname exists", True),
        ("username exists", False),
        ("username = null", True),
        ('username != "x"', False),  # null compares false, negations too
        ('not username = "x"', True),  # `not` is plain negation
        ('tags = "ps"', True),
        ('tags contains "LATER"', True),
        ('tags != "ps"', False),
        ('entity.host = "ws-1"', True),
        ('entity.ip incidr "192.0.2.0/24"', True),
        ('entity.user = "x"', False),
        ('raw.process.name = "cmd.exe"', True),
        ("raw.process.pid >= 40", True),
        ('raw.process.pid = "42"', False),  # JSON types do not convert
        ('raw.Entities[0].Address incidr "10.0.0.0/8"', True),
        ("raw.Entities[1].Address exists", False),
        ("createdAt > -3h and createdAt < -1h", True),
        ('createdAt < "2026-11-24T11:00:00Z"', True),
        ("createdAt < now()", True),
        ('(severity = 1 or severity = 3) and not hostname = "x"', True),
        ("severity = 3 AND NOT severity = 4", True),
    ],
)
def test_operators_over_an_alert(text: str, expected: bool) -> None:
    assert match(text) is expected


def test_incident_filters_reach_its_alerts() -> None:
    assert match('status = "OPEN" and alerts.hostname = "ws-2"', INCIDENT, Subject.INCIDENT)
    assert not match('alerts.hostname = "ws-3"', INCIDENT, Subject.INCIDENT)
    assert match("createdAt > -2h and groupingAllowed = true", INCIDENT, Subject.INCIDENT)


def test_syntax_error_names_position_and_expected() -> None:
    with pytest.raises(QueryError) as info:
        parse('severity >= 3 and\n hostname = = "x"')
    err = info.value
    assert err.code == "query.syntax_error"
    assert (err.errors[0]["line"], err.errors[0]["column"]) == (2, 13)
    assert "a string" in err.errors[0]["expected"]


@pytest.mark.parametrize("text", ["", "(a = 1", 'a = "x', "a @ 1", "a = 1 b = 2", "x" * 4001])
def test_syntax_errors(text: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.code in ("query.syntax_error", "query.too_long")


def test_unknown_field_names_the_valid_ones() -> None:
    err = error("sevrity = 3")
    assert err.code == "query.unknown_field" and "severity" in err.detail
    assert error("alerts.foo = 1", Subject.INCIDENT).code == "query.unknown_field"


def test_type_mismatch_is_explained() -> None:
    err = error('severity = "high"')
    assert err.code == "query.type_mismatch"
    assert "severity is a number; 'high' is a string" in err.detail
    assert error('hostname > "a"').code == "query.type_mismatch"
    assert error('createdAt > "yesterday"').code == "query.type_mismatch"
    assert error("severity contains 3").code == "query.type_mismatch"


def test_bad_regex_and_cidr() -> None:
    assert error('hostname matches "("').code == "query.bad_regex"
    assert error('hostname matches "' + "a" * 300 + '"').code == "query.bad_regex"
    assert error('srcIp incidr "10.0.0.0/33"').code == "query.bad_cidr"


def test_hostile_regex_times_out_as_no_match() -> None:
    pattern = regex.compile(r"(a+)+$")
    started = time.monotonic()
    assert regex_search(pattern, "a" * 40 + "!") is False
    assert time.monotonic() - started < 2


def test_sqlite_functions_agree_with_python() -> None:
    assert sqlite_regexp("^ws", "ws-1") == 1 and sqlite_regexp("(", "x") == 0
    assert sqlite_regexp("x", None) is None
    assert sqlite_incidr("10.1.2.3", "10.0.0.0/8") == 1
    assert sqlite_incidr("not an ip", "10.0.0.0/8") == 0
    assert sqlite_incidr("::1", "10.0.0.0/8") == 0


def test_relative_times_use_the_given_now() -> None:
    pred = compile_predicate(parse("createdAt > -1h"), Subject.ALERT, NOW)
    assert pred({"createdAt": NOW - timedelta(minutes=59)})
    assert not pred({"createdAt": NOW - timedelta(minutes=61)})
    assert pred({"createdAt": (NOW - timedelta(minutes=1)).isoformat()})
    week = compile_predicate(parse("createdAt >= -1w"), Subject.ALERT, NOW)
    assert week({"createdAt": NOW - timedelta(days=7)})
