"""Notification mail decisions (pure): which events notify, who receives them, what the
message says, and the listener's address syntax."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from muster.notify.events import PublishedEvent, published
from muster.notify.mail.fanout import notice_of
from muster.notify.mail.listener import parse_listen
from muster.notify.mail.recipients import Person, choose
from muster.notify.mail.render import greeting, incident_context, render
from muster.notify.mail.smtp import hash_subject, message_id, one_line

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
INCIDENT = {
    "id": "7d3c1f0e-0000-4000-8000-000000000001",
    "incidentHash": "K7Q2-M4XP",
    "number": 42,
    "description": "Suspicious PowerShell\r\nBcc: victim@example.test",
    "details": "powershell -enc ...",
    "severity": 4,
    "status": "OPEN",
    "assignee": None,
    "assigneeName": None,
    "source": "Defender",
    "createdAt": "2026-03-02T09:00:00Z",
}


def row(action: str, changes: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "subject_type": "incident",
        "subject_id": uuid.uuid4(),
        "action": action,
        "actor": "apikey:1",
        "actor_type": "apikey",
        "changes": changes,
        "reason": None,
        "created_at": NOW,
        **over,
    }


def event(action: str, changes: dict[str, Any], **over: Any) -> PublishedEvent:
    (found,) = published([row(action, changes, **over)])
    return found


class TestNoticeOf:
    def test_assignment_to_a_person(self) -> None:
        notice = notice_of(event("incident.assigned", {"assignee": [None, "ana@x.test"]}))
        assert notice is not None
        assert (notice["kind"], notice["assignee"]) == ("assignment", "ana@x.test")
        assert notice["actor"] == "apikey:1"

    @pytest.mark.parametrize("after", ["SOAR", None])
    def test_no_mail_for_soar_or_unassignment(self, after: str | None) -> None:
        assert notice_of(event("incident.assigned", {"assignee": ["ana@x.test", after]})) is None

    def test_a_status_change_with_an_assignment_is_one_assignment_mail(self) -> None:
        changes = {"status": ["OPEN", "UNDER_INVESTIGATION"], "assignee": [None, "bo@x.test"]}
        notice = notice_of(event("incident.updated", changes))
        assert notice is not None and notice["kind"] == "assignment"

    def test_a_question(self) -> None:
        changes = {"question": "Block?", "options": ["block", "ignore"]}
        notice = notice_of(event("soar.question_asked", changes))
        assert notice is not None
        assert (notice["kind"], notice["question"], notice["options"]) == (
            "question",
            "Block?",
            ["block", "ignore"],
        )

    def test_an_sla_breach(self) -> None:
        changes = {"target": "resolution", "dueAt": "2026-03-02T08:00:00Z"}
        notice = notice_of(event("sla.breached", changes))
        assert notice is not None
        assert (notice["kind"], notice["target"], notice["dueAt"]) == (
            "sla",
            "resolution",
            "2026-03-02T08:00:00Z",
        )

    @pytest.mark.parametrize(
        ("action", "changes"),
        [
            ("sla.at_risk", {"target": "response"}),
            ("incident.created", {}),
            ("incident.updated", {"description": ["a", "b"]}),
            ("soar.failed", {}),
        ],
    )
    def test_other_events_notify_nobody(self, action: str, changes: dict[str, Any]) -> None:
        assert notice_of(event(action, changes)) is None


def person(email: str, role: str | None = "analyst", **over: Any) -> Person:
    return Person(email=email, name=email.split("@")[0].title(), role=role, **over)


PEOPLE = {
    p.email: p
    for p in (
        person("ana@x.test"),
        person("bo@x.test"),
        person("viewer@x.test", "viewer"),
        person("admin@x.test", "tenant_admin"),
        person("gone@x.test", active=False),
        person("quiet@x.test", opt_out=frozenset({"question", "sla"})),
        person("mute@x.test", "tenant_admin", opt_out=frozenset({"all"})),
    )
}


class TestChoose:
    def test_assignment_goes_to_the_assignee(self) -> None:
        assert choose("assignment", ["Ana@X.test"], PEOPLE).addresses == ["ana@x.test"]

    def test_not_to_someone_who_assigned_themselves(self) -> None:
        chosen = choose("assignment", ["ana@x.test"], PEOPLE, actor_email="ana@x.test")
        assert chosen.addresses == []
        assert chosen.skipped == (("ana@x.test", "assigned the incident to themselves"),)

    def test_not_to_outsiders_or_inactive_users(self) -> None:
        assert choose("assignment", ["stranger@evil.test"], PEOPLE).addresses == []
        assert choose("assignment", ["gone@x.test"], PEOPLE).addresses == []

    def test_opt_outs_are_respected(self) -> None:
        assert choose("assignment", ["quiet@x.test"], PEOPLE).addresses == ["quiet@x.test"]
        skipped = choose("question", ["quiet@x.test"], PEOPLE)
        assert skipped.addresses == []
        assert skipped.skipped == (("quiet@x.test", "opted out of question mail"),)
        assert choose("assignment", ["mute@x.test"], PEOPLE).addresses == []

    def test_a_question_for_nobody_in_particular_goes_to_analysts_and_admins(self) -> None:
        assert choose("question", [], PEOPLE).addresses == [
            "admin@x.test",
            "ana@x.test",
            "bo@x.test",
        ]

    def test_a_question_for_someone_unknown_falls_back_to_the_team(self) -> None:
        chosen = choose("question", ["outsider@evil.test"], PEOPLE)
        assert chosen.addresses == ["admin@x.test", "ana@x.test", "bo@x.test"]

    def test_a_question_for_one_person_goes_to_them_only(self) -> None:
        assert choose("question", ["bo@x.test"], PEOPLE).addresses == ["bo@x.test"]

    def test_an_opted_out_person_asked_does_not_pass_it_on(self) -> None:
        assert choose("question", ["quiet@x.test"], PEOPLE).addresses == []

    def test_an_sla_breach_goes_to_the_assignee_or_else_the_admins(self) -> None:
        assert choose("sla", ["bo@x.test"], PEOPLE).addresses == ["bo@x.test"]
        assert choose("sla", [None], PEOPLE).addresses == ["admin@x.test"]
        assert choose("sla", ["gone@x.test"], PEOPLE).addresses == ["admin@x.test"]

    def test_a_global_admin_without_membership_can_be_the_assignee(self) -> None:
        people = {**PEOPLE, "root@mssp.test": person("root@mssp.test", None)}
        assert choose("assignment", ["root@mssp.test"], people).addresses == ["root@mssp.test"]


class TestRender:
    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "incident": incident_context(INCIDENT, "https://muster.example/"),
            "tenant": "acme",
            "greeting": greeting(["Ana Lyst"]),
            **extra,
        }

    def test_assignment(self) -> None:
        rendered = render("assignment", self.context(actor="API key 'triage'"))
        assert rendered.subject == (
            "[K7Q2-M4XP] Assigned to you: Suspicious PowerShell Bcc: victim@example.test"
        )
        assert "\r" not in rendered.subject and "\n" not in rendered.subject
        assert rendered.body.startswith("Hello Ana Lyst,\n\nAPI key 'triage' assigned incident #42")
        assert "Severity: High (4)" in rendered.body
        assert "Link:     https://muster.example/api/v1/incidents/7d3c1f0e-" in rendered.body
        assert 'emailOptOut: ["assignment"]' in rendered.body

    def test_question_lists_numbered_options_and_how_to_reply(self) -> None:
        rendered = render(
            "question",
            self.context(
                question="Block host ws-01?\nIt talks to a known C2.",
                options=["block", "ignore"],
                timeout_at="2026-03-02 10:30 UTC",
            ),
        )
        assert rendered.subject == "[K7Q2-M4XP] Question: Block host ws-01? It talks to a known C2."
        body = rendered.body
        assert "    Block host ws-01?\n    It talks to a known C2.\n" in body
        assert "Options:\n  1. block\n  2. ignore\n" in body
        assert "reply with the option number or its text" in body
        assert "times out at 2026-03-02 10:30 UTC" in body

    def test_sla_breach(self) -> None:
        rendered = render(
            "sla", self.context(target="resolution", due_at="2026-03-02 09:00 UTC", unassigned=True)
        )
        assert rendered.subject.startswith("[K7Q2-M4XP] SLA breached (resolution): Suspicious")
        assert "breached its resolution SLA: it was due at 2026-03-02 09:00 UTC" in rendered.body
        assert "its tenant admins receive this message" in rendered.body

    def test_a_long_subject_is_cut(self) -> None:
        long = dict(INCIDENT, description="x" * 1000)
        context = self.context() | {"incident": incident_context(long, "http://m")}
        subject = render("assignment", context | {"actor": "a"}).subject
        assert subject.startswith("[K7Q2-M4XP] Assigned to you: xxx") and subject.endswith("…")
        assert len(subject) <= 212


def test_subject_helpers() -> None:
    assert one_line("a\r\nb\tc\x00d  e") == "a b c d e"
    assert hash_subject("Re:\nhello", "ABCD-EFGH") == "[ABCD-EFGH] Re: hello"
    assert greeting(["A", "B", "C"]) == "Hello,"


def test_message_ids_are_stable_per_key() -> None:
    first = message_id("assignment.0190-abc", "Muster <muster@soc.example>", prefix="muster")
    assert first == "<muster.assignment.0190-abc@soc.example>"
    assert message_id("assignment.0190-abc", "muster@soc.example", prefix="muster") == first
    assert message_id("a b", "muster@").endswith("@muster.localhost>")


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("[::1]:25", ("::1", 25)),
        ("0.0.0.0:587", ("0.0.0.0", 587)),
    ],
)
def test_parse_listen(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["2525", "host:", ":25", "host:99999", "host:smtp"])
def test_parse_listen_refuses_nonsense(listen: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_listen(listen)
