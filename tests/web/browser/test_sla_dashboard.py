"""The SLA dashboard in Chromium: with incidents that were responded to and resolved, the
MTTA, MTTR and breaches charts exist, carry their data as JSON, and Chart.js drew on them."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Page, expect

from tests.factories import alert
from tests.web.browser.conftest import Console
from tests.web.browser.journeys import ingest, log_in, until

CHARTS = ("canvas#mtta-chart", "canvas#mttr-chart", "canvas#breaches-chart")

DRAWN = """sel => {
  const canvas = document.querySelector(sel);
  if (!canvas || !canvas.width || !canvas.height) return false;
  const blank = document.createElement('canvas');
  blank.width = canvas.width;
  blank.height = canvas.height;
  return canvas.toDataURL() !== blank.toDataURL();
}"""


def test_sla_charts_are_drawn(console: Console, page: Page) -> None:
    items = ingest(
        console,
        *(alert(hostname=f"sla-{n}-{uuid.uuid4().hex[:6]}", severity=1 + n % 4) for n in range(4)),
    )
    for item in items[:3]:  # respond to three, resolve two; one stays open
        resp = console.api.patch(
            f"/api/v1/incidents/{item['incidentId']}",
            json={"assignee": console.user.email, "status": "UNDER_INVESTIGATION"},
            headers=console.tenant.headers(),
        )
        assert resp.status_code == 200, resp.text
    for item in items[:2]:
        resp = console.api.patch(
            f"/api/v1/incidents/{item['incidentId']}",
            json={"status": "RESOLVED", "resolution": "TRUE_POSITIVE"},
            headers=console.tenant.headers(),
        )
        assert resp.status_code == 200, resp.text

    log_in(page, console.user)
    answer = page.goto("/ui/sla")
    assert answer is not None and answer.status == 200
    for selector in CHARTS:
        expect(page.locator(selector)).to_be_visible()
    blocks = page.locator('script[type="application/json"]')
    assert blocks.count() >= len(CHARTS)
    data = [json.loads(blocks.nth(n).inner_text()) for n in range(blocks.count())]
    assert all(d for d in data), data  # every chart has something to draw
    for selector in CHARTS:
        until(
            page,
            lambda sel=selector: bool(page.evaluate(DRAWN, sel)),  # type: ignore[misc]
            f"Chart.js drawing on {selector}",
            timeout=10,
            reload=False,
        )
