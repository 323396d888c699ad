"""CSRF in Chromium: a form that another origin's page posts to the console changes nothing,
and neither does a console form submitted without its csrf_token (403)."""

from __future__ import annotations

import html
import uuid

from playwright.sync_api import Page, Route

from tests.factories import alert
from tests.web.browser.conftest import Console
from tests.web.browser.journeys import ingest, log_in, open_incident

ATTACKER = "http://attacker.test/"


def comment_bodies(console: Console, incident_id: str) -> list[str]:
    """The incident's comments as the native API lists them."""
    resp = console.api.get(
        f"/api/v1/incidents/{incident_id}/comments", headers=console.tenant.headers()
    )
    assert resp.status_code == 200, resp.text
    return [c["body"] for c in resp.json()]


def test_forms_from_another_origin_or_without_a_token_change_nothing(
    console: Console, page: Page
) -> None:
    (item,) = ingest(console, alert(hostname=f"csrf-{uuid.uuid4().hex[:6]}"))
    incident_id = str(item["incidentId"])
    log_in(page, console.user)
    open_incident(page, incident_id)
    action = page.locator("form#comment-form").evaluate("f => f.action")  # absolute URL
    assert action.startswith(console.base_url), action

    forged = f"forged from another origin {uuid.uuid4().hex[:6]}"
    attack = (
        f'<form id="f" method="post" action="{html.escape(action)}">'
        f'<input name="body" value="{html.escape(forged)}"></form>'
        '<script>document.getElementById("f").submit()</script>'
    )

    def serve_attack(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=attack)

    page.route(f"{ATTACKER}**", serve_attack)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.goto(ATTACKER)
    assert posted.value.status in (303, 401, 403), posted.value.status
    page.wait_for_load_state()
    assert forged not in comment_bodies(console, incident_id)

    tokenless = f"posted without a token {uuid.uuid4().hex[:6]}"
    open_incident(page, incident_id)
    form = page.locator("form#comment-form")
    form.locator("input[name=csrf_token]").evaluate("el => el.remove()")
    form.evaluate("f => f.removeAttribute('hx-post')")  # a plain form post, no htmx header
    page.evaluate("document.body.removeAttribute('hx-headers')")
    form.locator("textarea[name=body]").fill(tokenless)
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        form.evaluate("f => HTMLFormElement.prototype.submit.call(f)")
    assert refused.value.status == 403
    assert comment_bodies(console, incident_id) == []
