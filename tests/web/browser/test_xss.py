"""Attacker-controlled strings are inert in Chromium. Alerts whose rule name, description, host,
user, command line, entities and raw fields carry script payloads, and a reported e-mail whose
subject does, are shown on the queue, the incident pages (raw payload included) and the alert
search. The pages are checked with the CSP bypassed, so escaping alone must hold: no payload
runs (`window.__xss` stays undefined, no dialog), no element or link is injected, and the
payload reads as text. Every page also sends the CSP, without unsafe-inline or unsafe-eval."""

from __future__ import annotations

import re
import smtplib
import socket
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from muster.clock import SystemClock
from muster.config import Settings
from muster.models.enums import Role
from muster.notify.mail.listener import MailListener
from tests.factories import alert
from tests.web.browser.conftest import Console, PageWatch, open_page
from tests.web.browser.journeys import ingest, log_in, open_incident

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
SVG = '"><svg onload=window.__xss=3>'
JS_URL = "javascript:window.__xss=4"
TEMPLATE = "{{7*7}}"
PAYLOAD = f"{SCRIPT} {IMG} {SVG} {JS_URL} {TEMPLATE}"

INJECTED = 'img[src="x"], [onerror], [onload], object, embed'
UNSAFE_URLS = """() => Array.from(document.querySelectorAll('a[href], form[action], [src]'))
  .map(e => (e.getAttribute('href') || e.getAttribute('action') || e.getAttribute('src')))
  .filter(u => u.trim().toLowerCase().startsWith('javascript:'))"""
PAYLOAD_SCRIPTS = """() => Array.from(document.scripts)
  .filter(s => s.textContent.includes('__xss')).length"""


def assert_inert(page: Page, watch: PageWatch, shown: list[str]) -> None:
    """Nothing ran or was injected, and each of `shown` is on the page as text."""
    ran = page.evaluate("typeof window.__xss === 'undefined' ? null : window.__xss")
    assert ran is None, f"payload {ran} executed on {page.url}"
    assert watch.dialogs == [], f"dialogs opened on {page.url}: {watch.dialogs}"
    assert page.locator(INJECTED).count() == 0, page.locator(INJECTED).evaluate_all(
        "els => els.map(e => e.outerHTML)"
    )
    assert page.evaluate(UNSAFE_URLS) == [], f"javascript: URL made a link on {page.url}"
    assert page.evaluate(PAYLOAD_SCRIPTS) == 0, f"a payload became a <script> on {page.url}"
    text = page.locator("body").inner_text()
    for literal in shown:
        assert literal in text, f"{literal!r} is not shown as text"


def assert_csp(answer: Response | None) -> None:
    """The page came with the console's Content-Security-Policy."""
    assert answer is not None and answer.status == 200, answer
    csp = answer.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert answer.headers.get("x-content-type-options") == "nosniff"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture()
def mail_port(console: Console) -> Iterator[int]:
    """muster's SMTP listener on the session database; its port."""
    settings: Settings = console.fixtures.getfixturevalue("settings")
    port = free_port()
    running = MailListener(console.db, settings, SystemClock(), f"127.0.0.1:{port}").start()
    yield port
    running.stop()


def report_email(console: Console, port: int, subject: str) -> str:
    """Report a phishing mail with `subject` to the tenant's intake address; the incident id."""
    intake = f"phish-{uuid.uuid4().hex[:8]}@corp.test"
    resp = console.api.patch(
        f"/api/v1/tenants/{console.tenant.id}",
        json={"settings": {"emailIntake": intake}},
        headers=console.tenant.headers(Role.TENANT_ADMIN),
    )
    assert resp.status_code == 200, resp.text
    mail = EmailMessage()
    mail["From"] = "Reporter <reporter@corp.test>"
    mail["To"] = intake
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="client.test")
    mail.set_content(f"Please look at this one: {PAYLOAD}")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("reporter@corp.test")
        smtp.rcpt(intake)
        code, text = smtp.data(mail.as_bytes())
    found = re.search(r"incident \[(\w{4}-\w{4})\]", text.decode())
    assert code == 250 and found, text
    by_hash = console.api.get(
        f"/api/v1/incidents/by-hash/{found[1]}", headers=console.tenant.headers()
    )
    assert by_hash.status_code == 200, by_hash.text
    return str(by_hash.json()["id"])


def test_payloads_stay_text_everywhere(console: Console, browser: Browser, mail_port: int) -> None:
    marker = uuid.uuid4().hex[:8]
    rule = f"{SCRIPT}{marker} {IMG} {TEMPLATE}"
    fields: dict[str, Any] = {
        "ruleName": rule,
        "description": f"desc-{marker} {PAYLOAD}",
        "hostname": f"{SVG}host-{marker}",
        "username": f"{IMG}user-{marker}",
        "initiatorCmd": f"cmd.exe /c {PAYLOAD}",
        "initiatorPath": JS_URL,
        "entities": [
            {"type": "url", "value": JS_URL},
            {"type": "other", "value": f"entity-{marker} {PAYLOAD}"},
        ],
        "vendorField": f"raw-{marker} {PAYLOAD}",  # unknown: kept in the raw payload only
    }
    (item,) = ingest(console, alert(**fields))
    incident_id = str(item["incidentId"])
    subject = f"Invoice {marker} {SCRIPT} {SVG} {TEMPLATE}"
    mail_incident = report_email(console, mail_port, subject)

    context = browser.new_context(base_url=console.base_url, bypass_csp=True)
    try:
        page, watch = open_page(context)
        log_in(page, console.user)

        assert_csp(page.goto("/ui/queue"))
        expect(page.locator(f'tr[data-incident-id="{incident_id}"]')).to_contain_text(marker)
        expect(page.locator(f'tr[data-incident-id="{mail_incident}"]')).to_be_visible()
        assert_inert(page, watch, [f"{SCRIPT}{marker}"])

        answer = page.goto(f"/ui/incidents/{incident_id}")
        assert_csp(answer)
        expect(page.locator("h1#incident-title")).to_contain_text(f"{SCRIPT}{marker}")
        shown = [rule, fields["description"], fields["hostname"], fields["username"]]
        assert_inert(page, watch, [*shown, fields["initiatorCmd"]])
        expect(page.locator("ul#entities")).to_contain_text(JS_URL)  # as text, not a link
        row = page.locator("table#alerts tr[data-alert-id]").first
        row.locator("button.show-raw").click()
        raw = page.locator("pre.raw")
        expect(raw).to_contain_text(f"raw-{marker}")
        expect(raw).to_contain_text(SCRIPT)
        assert_inert(page, watch, [SCRIPT, IMG, TEMPLATE])

        open_incident(page, mail_incident)
        expect(page.locator("h1#incident-title")).to_contain_text(subject)
        assert_inert(page, watch, [subject])

        assert_csp(page.goto("/ui/alerts"))
        expect(page.locator("table#alerts-results")).to_contain_text(f"{SCRIPT}{marker}")
        assert_inert(page, watch, [f"{SCRIPT}{marker}"])
        assert watch.page_errors == []
    finally:
        context.close()
