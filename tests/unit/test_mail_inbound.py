"""Reading inbound mail (pure): parsing, malformed MIME, automatic mail, incident hashes,
reply stripping, what a reply means, and the alert a reported message becomes."""

from __future__ import annotations

import hashlib

import pytest

from muster.notify.mail.inbound import Malformed, incident_hashes, parse
from muster.notify.mail.intake import alert_payload
from muster.notify.mail.replies import (
    MAX_COMMENT_CHARS,
    AddComment,
    Answer,
    Refuse,
    decide_reply,
    strip_reply,
)
from muster.tenants.intake import sender_allowed


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


REPLY = crlf(
    """From: Ana Lyst <Ana@Example.test>
To: muster@localhost
Subject: Re: [K7Q2-M4XP] Question: Block the host?
Message-ID: <reply-1@example.test>
Date: Mon, 02 Mar 2026 09:31:00 +0000
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

2

Checked with the user.

On Mon, 2 Mar 2026 at 09:30, muster <muster@localhost> wrote:
> Options:
>   1. block
--alt
Content-Type: text/html; charset=utf-8

<p>2</p><blockquote>Options</blockquote>
--alt--
--outer
Content-Type: application/pdf
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

aGVsbG8=
--outer
Content-Type: message/rfc822

From: billing@phish.test
Subject: Your invoice
Message-ID: <p-1@phish.test>

Pay at http://phish.test/pay?id=7 today.
--outer--
"""
)


class TestParse:
    def test_reads_sender_subject_text_and_attachments(self) -> None:
        message = parse(REPLY)
        assert message.sender == "ana@example.test"
        assert message.sender_name == "Ana Lyst"
        assert message.subject == "Re: [K7Q2-M4XP] Question: Block the host?"
        assert message.message_id == "<reply-1@example.test>"
        assert message.to == ("muster@localhost",)
        assert message.text.startswith("2\n\nChecked with the user.\n")  # plain before HTML
        pdf, forwarded = message.attachments
        assert (pdf.name, pdf.content_type, pdf.size) == ("invoice.pdf", "application/pdf", 5)
        assert pdf.sha256 == hashlib.sha256(b"hello").hexdigest()
        assert forwarded.content_type == "message/rfc822"
        assert forwarded.message == {
            "From": "billing@phish.test",
            "Subject": "Your invoice",
            "Message-ID": "<p-1@phish.test>",
        }
        assert message.urls == ("http://phish.test/pay?id=7",)
        assert not message.automatic
        assert ("Message-ID", "<reply-1@example.test>") in message.headers

    def test_an_html_only_body_is_read_without_its_quotes(self) -> None:
        raw = crlf(
            "From: a@example.test\nSubject: x\nContent-Type: text/html; charset=utf-8\n\n"
            "<html><head><style>p{}</style></head><body><p>Benign &amp; known</p>"
            "<div>second line<br>third</div><blockquote>old text</blockquote></body></html>"
        )
        assert parse(raw).text == "Benign & known\n\nsecond line\nthird"

    @pytest.mark.parametrize(
        ("raw", "why"),
        [
            (b"\x00\xff\xfe garbage, not mail\r\n\r\nmore", "MissingHeaderBodySeparator"),
            (
                crlf(
                    "From: a@example.test\nSubject: x\nContent-Type: multipart/mixed; "
                    'boundary="zz"\n\nthe boundary never comes\n'
                ),
                "StartBoundaryNotFound",
            ),
            (crlf("From: a@example.test\nContent-Type: multipart/mixed\n\nx\n"), "NoBoundary"),
            (crlf("Subject: who sent this?\n\nbody\n"), "no sender address"),
            (crlf("From: not an address\nSubject: x\n\nbody\n"), "no sender address"),
        ],
    )
    def test_malformed_messages_are_refused(self, raw: bytes, why: str) -> None:
        with pytest.raises(Malformed, match=why):
            parse(raw)

    @pytest.mark.parametrize(
        "header",
        [
            "Auto-Submitted: auto-replied",
            "Auto-Submitted: auto-generated",
            "X-Autoreply: yes",
            "Precedence: bulk",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b",
        ],
    )
    def test_automatic_mail_is_recognised(self, header: str) -> None:
        body = "--b\nContent-Type: text/plain\n\nAway.\n--b--\n"
        raw = crlf(f"From: away@example.test\nSubject: Out of office\n{header}\n\n{body}")
        assert parse(raw).automatic

    def test_a_person_is_not_automatic(self) -> None:
        raw = crlf("From: a@example.test\nSubject: x\nAuto-Submitted: no\n\nhello\n")
        assert not parse(raw).automatic


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[K7Q2-M4XP] Assigned to you", ["K7Q2-M4XP"]),
        ("Re: RE: [k7q2-m4xp] Question", ["K7Q2-M4XP"]),
        ("AW: Severity raised [#K7Q2-M4XP]", ["K7Q2-M4XP"]),
        ("Re: [ K7Q2 M4XP ]", ["K7Q2-M4XP"]),
        ("Re: [K7Q2M4XP]", ["K7Q2-M4XP"]),
        ("Re: [K7Q2-M4XO] typed with an O", ["K7Q2-M4X0"]),
        ("[EXT] [URGENTLY] invoice", []),  # U is not in the alphabet
        ("K7Q2-M4XP without brackets", []),
        ("[ABCD-EFGH] and [K7Q2-M4XP]", ["ABCD-EFGH", "K7Q2-M4XP"]),
    ],
)
def test_incident_hashes(subject: str, expected: list[str]) -> None:
    assert incident_hashes(subject) == expected


class TestStripReply:
    def test_quotes_and_attribution_go(self) -> None:
        text = "Fine by me.\n\nOn Mon, 2 Mar 2026 at 09:30, muster <m@x> wrote:\n> old\n> older"
        assert strip_reply(text) == "Fine by me."

    def test_a_wrapped_attribution_goes(self) -> None:
        text = "ok\n\nOn Mon, 2 Mar 2026 at 09:30, Muster Notifications <muster@x.test>\nwrote:\n"
        assert strip_reply(text + "> quoted") == "ok"

    def test_outlook_history_goes(self) -> None:
        text = "Block it.\n\n-----Original Message-----\nFrom: muster\nSubject: x"
        assert strip_reply(text) == "Block it."
        header_block = "Block it.\n\nFrom: muster <m@x>\nSent: Monday, March 2, 2026\nTo: ana"
        assert strip_reply(header_block) == "Block it."

    def test_signatures_go(self) -> None:
        assert strip_reply("yes\n-- \nAna Lyst\nSOC") == "yes"
        assert strip_reply("yes\n\nSent from my iPhone") == "yes"

    def test_inline_quotes_go_but_the_answers_between_stay(self) -> None:
        text = "> Is it benign?\nYes.\n> Block?\nNo."
        assert strip_reply(text) == "Yes.\nNo."

    def test_words_that_look_like_an_attribution_stay(self) -> None:
        assert strip_reply("On second thought,\nthen I wrote:\nblock it") == (
            "On second thought,\nthen I wrote:\nblock it"
        )


class TestDecideReply:
    OPTIONS = ["block", "ignore", "escalate"]

    @pytest.mark.parametrize(
        "first", ["2", "2.", "#2", "(2)", " 2 ", "ignore", "IGNORE.", '"Ignore"']
    )
    def test_an_option_number_or_text_answers(self, first: str) -> None:
        assert decide_reply(f"{first}\n> quoted", self.OPTIONS) == Answer("ignore", "")

    def test_the_rest_of_an_answer_is_a_comment(self) -> None:
        decision = decide_reply("1\n\nThe host is patient zero.\n-- \nAna", self.OPTIONS)
        assert decision == Answer("block", "The host is patient zero.")

    def test_an_option_that_does_not_exist_is_refused_with_the_choices(self) -> None:
        decision = decide_reply("7", self.OPTIONS)
        assert isinstance(decision, Refuse)
        assert "no option 7" in decision.reason
        assert "1 (block), 2 (ignore), 3 (escalate)" in decision.reason

    def test_other_text_while_a_question_waits_is_a_comment(self) -> None:
        decision = decide_reply("Not sure yet, looking into it.", self.OPTIONS)
        assert decision == AddComment("Not sure yet, looking into it.")

    def test_an_option_text_wins_over_its_position(self) -> None:
        assert decide_reply("3", ["1", "3", "5"]) == Answer("3", "")

    def test_a_free_text_question_takes_the_first_line(self) -> None:
        assert decide_reply("ticket INC-42\nmore", []) == Answer("ticket INC-42", "more")

    def test_without_a_question_text_is_a_comment_and_a_number_is_refused(self) -> None:
        assert decide_reply("False positive.\n\nOn Mon, 2 Mar 2026, x wrote:\n> y", None) == (
            AddComment("False positive.")
        )
        refused = decide_reply("2", None)
        assert isinstance(refused, Refuse) and "no question is waiting" in refused.reason

    def test_a_reply_with_only_quotes_is_refused(self) -> None:
        assert isinstance(decide_reply("> all quoted\n> here", None), Refuse)

    def test_a_long_comment_is_cut(self) -> None:
        decision = decide_reply("x" * (MAX_COMMENT_CHARS + 10), None)
        assert isinstance(decision, AddComment)
        assert decision.body.endswith("[… cut: the e-mail was longer]")
        assert len(decision.body) < MAX_COMMENT_CHARS + 100


class TestAlertPayload:
    def test_a_report_becomes_an_email_alert_with_its_evidence(self) -> None:
        message = parse(REPLY.replace(b"Re: [K7Q2-M4XP] ", b"Fwd: "))
        payload = alert_payload(message, "phish@corp.test")
        assert payload["source"] == "email"
        assert payload["ruleName"] == "Reported e-mail: Question: Block the host?"
        assert payload["externalId"] == "<reply-1@example.test>"
        assert payload["username"] == "ana@example.test"
        assert payload["description"].startswith("From ana@example.test to phish@corp.test\n\n2")
        entities = {(e["type"], e["value"]) for e in payload["entities"]}
        assert ("mailbox", "ana@example.test") in entities
        assert ("url", "http://phish.test/pay?id=7") in entities
        assert ("file", "invoice.pdf") in entities
        assert ("filehash", hashlib.sha256(b"hello").hexdigest()) in entities
        evidence = payload["email"]
        assert evidence["recipient"] == "phish@corp.test"
        assert [a["name"] for a in evidence["attachments"]] == ["invoice.pdf", "message.eml"]
        assert evidence["attachments"][1]["message"]["Subject"] == "Your invoice"
        assert ["From", "Ana Lyst <Ana@Example.test>"] in evidence["headers"]

    def test_nul_characters_never_reach_the_database(self) -> None:
        raw = crlf("From: a@example.test\nSubject: bad\x00subject\n\nnul\x00here\n")
        payload = alert_payload(parse(raw), "in@x.test")
        assert "\x00" not in repr(payload)


@pytest.mark.parametrize(
    ("sender", "allowed", "expected"),
    [
        ("anyone@anywhere.test", [], True),
        ("bob@corp.test", ["corp.test"], True),
        ("bob@eu.corp.test", ["@corp.test"], True),
        ("bob@notcorp.test", ["corp.test"], False),
        ("soc@partner.test", ["soc@partner.test"], True),
        ("other@partner.test", ["soc@partner.test"], False),
    ],
)
def test_intake_sender_allow_list(sender: str, allowed: list[str], expected: bool) -> None:
    assert sender_allowed(sender, allowed) is expected
