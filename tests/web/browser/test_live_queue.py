"""The queue updates itself in Chromium: an incident opened after the page loaded appears
without a reload (htmx polls `tbody#queue-rows`; the test server refreshes every second,
`ui_refresh_seconds` in tests/conftest.py)."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.factories import alert
from tests.web.browser.conftest import Console
from tests.web.browser.journeys import ingest, log_in


def test_a_new_incident_appears_in_the_open_queue_without_a_reload(
    console: Console, page: Page
) -> None:
    log_in(page, console.user)
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    page.evaluate("window.__sameDocument = true")
    host = f"live-{uuid.uuid4().hex[:8]}.corp.example"
    rows = page.locator("tbody#queue-rows tr[data-incident-id]")
    expect(rows.filter(has_text=host)).to_have_count(0)

    (item,) = ingest(console, alert(hostname=host, ruleName=f"Live beacon from {host}"))

    row = page.locator(f'tbody#queue-rows tr[data-incident-id="{item["incidentId"]}"]')
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text(host)
    assert loads == [], f"the page was reloaded: {loads}"
    assert page.evaluate("window.__sameDocument") is True  # the same document, not a new one
