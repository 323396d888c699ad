"""The console's pure pieces: countdown text, queue parameters, field display, safe redirects,
the Secure cookie decision. No server, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from muster.errors import InvalidInput
from muster.web.pages import safe_next
from muster.web.security import cookie_is_secure
from muster.web.views_incident import change_lines, mitre, seed_fields, split_list, split_tags
from muster.web.views_queue import countdown_text, duration_text, parse_params, to_filter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(12, "12s"), (249, "4m 09s"), (3900, "1h 05m"), (2 * 86_400 + 3 * 3600, "2d 03h")],
)
def test_duration_text(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
    assert duration_text(-seconds) == text


def test_countdown_before_and_after_the_deadline() -> None:
    assert countdown_text(NOW + timedelta(minutes=5), NOW) == "5m 00s left"
    assert countdown_text(NOW - timedelta(minutes=5), NOW) == "overdue 5m 00s"
    assert countdown_text(None, NOW) == ""


def test_queue_parameters_keep_known_non_blank_fields() -> None:
    params = parse_params(
        [("status", "OPEN"), ("tag", " "), ("colour", "red"), ("cursor", "abc"), ("status", "x")]
    )
    assert dict(params.values) == {"status": "OPEN"} and params.cursor == "abc"
    assert params.query(cursor="next") == "status=OPEN&cursor=next"


def test_mine_is_the_viewer() -> None:
    flt = to_filter(parse_params([("assignee", "mine"), ("severity", "4")]), "me@x.test", NOW)
    assert flt.assignee == "me@x.test" and flt.severity == (4,)


@pytest.mark.parametrize(
    ("name", "value"), [("status", "CLOSED"), ("severity", "0"), ("slaState", "late")]
)
def test_bad_values_name_their_field(name: str, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_params([(name, value)])
    assert caught.value.errors[0]["field"] == name


def test_fields_are_shown_in_seed_order() -> None:
    shown = dict(seed_fields({"tags": ["a", "b"], "excludeFromSLA": False, "resolvedAt": None}))
    assert shown["tags"] == "a, b" and shown["excludeFromSLA"] == "no"
    assert shown["resolvedAt"] == "—" and next(iter(shown)) == "id"


def test_attack_names_and_unknown_values() -> None:
    known = mitre("Lateral Movement", "T1021")
    assert known.tactic_id == "TA0008" and known.technique_name == "Remote Services"
    unknown = mitre("Not A Tactic", "T0000")
    assert unknown.tactic_id is None and unknown.technique_name is None
    assert unknown.technique_id == "T0000"


def test_change_lines_and_lists() -> None:
    assert change_lines({"status": ["OPEN", "RESOLVED"], "note": "x"}) == (
        "status: OPEN → RESOLVED",
        "note: x",
    )
    assert split_list("a, b\nc a") == ["a", "b", "c"]
    assert split_tags("one, two words ,,one") == ["one", "two words"]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/incidents/1", "/ui/incidents/1"),
        ("/ui/queue?status=OPEN", "/ui/queue?status=OPEN"),
        ("https://evil.example/ui/", "/ui/queue"),
        ("//evil.example/ui/", "/ui/queue"),
        ("/api/v1/incidents", "/ui/queue"),
        ("/ui/\\evil", "/ui/queue"),
        (None, "/ui/queue"),
    ],
)
def test_redirects_stay_in_the_console(target: str | None, expected: str) -> None:
    assert safe_next(target, "/ui") == expected


def _request(scheme: str) -> Request:
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "path": "/",
            "headers": [],
            "query_string": b"",
            "server": ("x", 443 if scheme == "https" else 80),
        }
    )


def test_cookies_are_secure_over_https() -> None:
    assert cookie_is_secure(_request("https"), "http://127.0.0.1:8000")
    assert cookie_is_secure(_request("http"), "https://soc.example")
    assert not cookie_is_secure(_request("http"), "http://127.0.0.1:8000")


def test_templates_hold_no_inline_code_or_unescaped_data() -> None:
    from pathlib import Path

    import muster.web

    folder = Path(muster.web.__file__).parent / "templates"
    for template in folder.glob("*.html"):
        text = template.read_text()
        for banned in ("style=", "<style", "|safe", "| safe", "Markup", " on", "hx-on", "js:"):
            if banned == " on":
                assert not re.search(r"\son[a-z]+=", text), template.name
            else:
                assert banned not in text, (template.name, banned)
        assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", text), (
            template.name
        )
