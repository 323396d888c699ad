"""Triage in Chromium: find an ingested incident in the queue, open it from the keyboard,
assign it to yourself and comment; resolve it, where the browser refuses to send the form
until a resolution is chosen."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, Request, expect

from tests.factories import alert
from tests.web.browser.conftest import Console
from tests.web.browser.journeys import (
    api_incident,
    choose,
    ingest,
    log_in,
    open_incident,
    selected_ids,
    submit,
)


def test_triage_from_the_queue_assign_and_comment(console: Console, page: Page) -> None:
    hosts = [f"triage-{n}-{uuid.uuid4().hex[:6]}.corp.example" for n in range(3)]
    items = ingest(
        console,
        *(
            alert(hostname=h, ruleName=f"Beacon from {h}", severity=2 + n)
            for n, h in enumerate(hosts)
        ),
    )
    target = str(items[1]["incidentId"])
    assert len({i["incidentId"] for i in items}) == 3  # three hosts: three incidents

    log_in(page, console.user)
    row = page.locator(f'tbody#queue-rows tr[data-incident-id="{target}"]')
    expect(row).to_have_count(1)
    expect(row.locator("a.incident-link")).to_have_attribute("href", f"/ui/incidents/{target}")
    expect(row).to_contain_text(f"Beacon from {hosts[1]}")
    expect(row.locator("td.status")).to_contain_text(re.compile("open", re.I))
    expect(row.locator(f'input[type=checkbox][name=ids][value="{target}"]')).to_have_count(1)

    page.locator("body").click(position={"x": 5, "y": 5})  # focus the page, not a field
    for _ in range(len(items) + 1):  # j moves the highlight down until it is on our row
        page.keyboard.press("j")
        if selected_ids(page) == [target]:
            break
    expect(page.locator("tbody#queue-rows tr.selected")).to_have_attribute(
        "data-incident-id", target
    )
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/incidents/{target}")
    expect(page.locator("h1#incident-title")).to_contain_text(f"Beacon from {hosts[1]}")
    expect(page.locator("dl#incident-fields")).to_contain_text(hosts[1])

    assign = page.locator("form#assign-form")
    choose(assign.locator("select[name=assignee]"), console.user.email)
    submit(assign)
    who = re.compile(f"{re.escape(console.user.email)}|{re.escape(console.user.name)}")
    expect(page.locator("#incident-assignee")).to_contain_text(who)

    body = f"Checked the beacon on {hosts[1]}, looks real ({uuid.uuid4().hex[:6]})"
    page.locator("form#comment-form textarea[name=body]").fill(body)
    page.locator("form#comment-form button#add-comment").click()
    expect(page.locator("ul#comments")).to_contain_text(body)

    page.reload()  # what the server stored, not only what the last answer showed
    expect(page.locator("#incident-assignee")).to_contain_text(who)
    events = page.locator("ol#timeline > li")
    expect(
        events.filter(has_text=re.compile("assign", re.I)).filter(has_text=who)
    ).not_to_have_count(0)
    expect(events.filter(has_text=re.compile("comment", re.I))).not_to_have_count(0)
    expect(page.locator("ul#comments")).to_contain_text(body)

    stored = api_incident(console, target)
    assert stored["assignee"] == console.user.email
    comments = console.api.get(
        f"/api/v1/incidents/{target}/comments", headers=console.tenant.headers()
    ).json()
    assert [c["body"] for c in comments] == [body]


def test_resolve_needs_a_resolution_before_anything_is_sent(console: Console, page: Page) -> None:
    (item,) = ingest(console, alert(hostname=f"resolve-{uuid.uuid4().hex[:6]}"))
    incident_id = str(item["incidentId"])
    log_in(page, console.user)
    open_incident(page, incident_id)

    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method != "GET" else None)
    form = page.locator("form#resolve-form")
    resolution = form.locator("select[name=resolution]")
    assert resolution.get_attribute("required") is not None
    page.locator("button#resolve").click()
    page.wait_for_timeout(700)
    assert [r.url for r in posts] == []  # the browser stopped it: nothing reached the server
    assert resolution.evaluate("el => el.validity.valueMissing") is True
    assert resolution.evaluate("el => el.validationMessage")  # the message the user is shown
    assert api_incident(console, incident_id)["status"] == "OPEN"

    resolution.select_option("FALSE_POSITIVE")
    comment = f"test traffic from the red team {uuid.uuid4().hex[:6]}"
    form.locator("textarea[name=comment]").fill(comment)
    page.locator("button#resolve").click()
    expect(page.locator("#incident-status")).to_contain_text(re.compile("resolved", re.I))
    assert [r.method for r in posts] == ["POST"]
    stored = api_incident(console, incident_id)
    assert (stored["status"], stored["resolution"]) == ("RESOLVED", "FALSE_POSITIVE")
    assert stored["resolutionComment"] == comment
