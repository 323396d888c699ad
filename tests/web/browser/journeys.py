"""Steps that browser tests share: log in, submit a console form, wait for what the user sees."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.browser.conftest import Console, Member

SUBMIT = "button[type=submit], button:not([type]), input[type=submit]"


def log_in(page: Page, user: Member, next_page: str = "/ui/queue") -> None:
    """Log in through `form#login-form` and land on `next_page`."""
    page.goto("/ui/login")
    form = page.locator("form#login-form")
    form.locator("input[name=email]").fill(user.email)
    form.locator("input[name=password]").fill(user.password)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(next_page) + r"(\?|$)"))
    expect(page.locator("nav span#whoami")).to_have_text(re.compile(re.escape(user.email), re.I))


def submit(form: Locator) -> None:
    """Submit a console form the way a user does: its submit button, else Enter-like submit."""
    buttons = form.locator(SUBMIT)
    if buttons.count():
        buttons.first.click()
    else:
        form.evaluate("f => f.requestSubmit()")


def open_incident(page: Page, incident_id: str) -> None:
    """Open an incident's page and wait for its title."""
    page.goto(f"/ui/incidents/{incident_id}")
    expect(page.locator("h1#incident-title")).to_be_visible()


def until(
    page: Page,
    check: Callable[[], bool],
    what: str,
    timeout: float = 20.0,
    reload: bool = True,
) -> None:
    """Poll `check()` (reloading the page between tries when `reload`) until it is true, as a
    user refreshing a page that the server's worker is still changing; fail with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        page.wait_for_timeout(300)
        if reload:
            page.reload()
    pytest.fail(f"not seen in {timeout}s: {what}")


def ingest(console: Console, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    """Ingest alerts through the native API as the tenant's analyst key; the answer items."""
    resp = console.api.post(
        "/api/v1/alerts", json={"alerts": list(bodies)}, headers=console.tenant.headers()
    )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    assert len(items) == len(bodies)
    return items


def api_incident(console: Console, incident_id: str) -> dict[str, Any]:
    """The incident as the native API reads it."""
    resp = console.api.get(f"/api/v1/incidents/{incident_id}", headers=console.tenant.headers())
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def selected_ids(page: Page) -> list[str]:
    """Incident ids of the queue rows highlighted by keyboard navigation (`tr.selected`)."""
    ids: list[str] = page.eval_on_selector_all(
        "tbody#queue-rows tr.selected", "rows => rows.map(r => r.dataset.incidentId)"
    )
    return ids


def choose(select: Locator, wanted: str) -> str:
    """Pick the option of `select` whose value or visible text contains `wanted` (a user's
    e-mail may be the value or part of the label); its value."""
    options: list[list[str]] = select.evaluate(
        "s => Array.from(s.options).map(o => [o.value, o.textContent])"
    )
    matches = [value for value, text in options if wanted in value or wanted in text]
    assert matches, f"no option with {wanted!r} in {options}"
    select.select_option(matches[0])
    return matches[0]
