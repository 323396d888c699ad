"""Logging in and out in Chromium: the login form, the queue behind it, the session cookie,
a refused password, and logout ending the session."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.browser.conftest import Console, Member
from tests.web.browser.journeys import log_in


def test_log_in_see_the_queue_and_log_out(console: Console, page: Page) -> None:
    first = page.goto("/")
    assert first is not None
    page.wait_for_url(re.compile(r"/ui/login(\?|$)"))  # / → /ui/ → /ui/login when logged out
    expect(page.locator("form#login-form input[name=csrf_token]")).to_have_count(1)

    log_in(page, console.user)
    expect(page.locator("table#queue")).to_be_visible()
    expect(page.locator("tbody#queue-rows")).to_have_count(1)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "muster_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.goto("/ui/")
    page.wait_for_url(re.compile(r"/ui/queue(\?|$)"))  # logged in: / leads to the queue

    page.locator("form#logout-form #logout").click()
    page.wait_for_url(re.compile(r"/ui/login(\?|$)"))
    assert not [c for c in page.context.cookies() if c["name"] == "muster_session" and c["value"]]
    page.goto("/ui/queue")
    page.wait_for_url(re.compile(r"/ui/login"))  # the session is gone
    expect(page.locator("table#queue")).to_have_count(0)


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(
    console: Console, page: Page
) -> None:
    messages = []
    for email, password in (
        (console.user.email, console.user.password + "!"),
        (f"nobody-{console.user.email}", console.user.password),
    ):
        page.goto("/ui/login")
        page.locator("form#login-form input[name=email]").fill(email)
        page.locator("form#login-form input[name=password]").fill(password)
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.locator("form#login-form button[type=submit]").click()
        assert answer.value.status == 401
        alert = page.locator("[role=alert]")
        expect(alert).to_be_visible()
        messages.append(alert.inner_text().strip())
        assert page.url.split("?")[0].endswith("/ui/login")
        assert not [c for c in page.context.cookies() if c["name"] == "muster_session"]
    assert messages[0] and messages[0] == messages[1]

    log_in(page, Member(console.user.email, console.user.name))  # the right one still works
