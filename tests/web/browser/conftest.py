"""Browser fixtures: one Debian Chromium per session driven by Playwright, a fresh context per
test, and a `console` (the shared uvicorn server, a fresh tenant, a member with a password).

Browser tests run on SQLite only: the pages call the same services as the API, whose tests
cover PostgreSQL, and one backend keeps the suite fast. Under the `postgresql` parameter they
are skipped before any PostgreSQL fixture is built. Chromium comes from apt (`chromium`), never
from `playwright install`; when it is missing the tests fail under MUSTER_REQUIRE_BROWSER=1 (CI,
`.ci/run`) and are skipped with a message otherwise.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from muster.clock import SystemClock
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models.enums import Role
from muster.tenants.schemas import UserCreate
from muster.tenants.users import create_user
from tests.factories import TenantKeys, make_tenant

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

REQUIRE_BROWSER = os.environ.get("MUSTER_REQUIRE_BROWSER") == "1"
PASSWORD = "correct horse battery staple"


def _unavailable(reason: str) -> None:
    """Fail (CI requires the browser) or skip loudly."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (MUSTER_REQUIRE_BROWSER=1)")
    pytest.skip(
        f"{reason}: browser tests SKIPPED (apt-get install chromium; pip install -e .[dev])"
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's Chromium (`chromium`), or fail/skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _unavailable("Chromium is not installed")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        yield launched
        launched.close()


@dataclass
class Member:
    """A tenant member who can log in to the console."""

    email: str
    name: str
    password: str = PASSWORD
    id: uuid.UUID | None = None

    @property
    def actor(self) -> str:
        """How the timeline and SOAR memory name this user (`user:<id>`)."""
        return f"user:{self.id}"


@dataclass
class Console:
    """What a browser test works with: the server, its tenant and a member with a password."""

    base_url: str
    db: Database
    tenant: TenantKeys
    user: Member
    api: httpx.Client
    fixtures: pytest.FixtureRequest = field(repr=False)

    def url(self, path: str) -> str:
        """Absolute URL of a path on the server."""
        return self.base_url + path


def make_member(db: Database, tenant_id: uuid.UUID, role: Role = Role.ANALYST) -> Member:
    """A new user with a password, member of `tenant_id` with `role`."""
    member = Member(f"web-{uuid.uuid4().hex[:10]}@example.test", f"Web User {uuid.uuid4().hex[:4]}")
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        member.id = create_user(
            session,
            UserCreate(email=member.email, name=member.name, role=role, password=member.password),
            SystemClock().now(),
            by_global=True,
        ).id
    return member


@pytest.fixture()
def console(backend: str, request: pytest.FixtureRequest) -> Iterator[Console]:
    """The shared server (SQLite only), a fresh tenant and a member who can log in."""
    if backend != "sqlite":
        pytest.skip("browser tests run on SQLite only (see tests/web/browser/conftest.py)")
    request.getfixturevalue("browser")  # no browser: fail/skip before touching the database
    base_url: str = request.getfixturevalue("base_url")
    db: Database = request.getfixturevalue("db")
    tenant = make_tenant(db)
    user = make_member(db, tenant.id)
    with httpx.Client(base_url=base_url, timeout=30) as api:
        yield Console(base_url, db, tenant, user, api, request)


@dataclass
class PageWatch:
    """What the page did that a test may want to deny: dialogs, CSP violations, errors."""

    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        """Console errors in which Chromium reports a Content-Security-Policy refusal."""
        return [m for m in self.console_errors if "Content Security Policy" in m]


def open_page(context: BrowserContext) -> tuple[Page, PageWatch]:
    """A new page of `context` whose dialogs are recorded (and dismissed) and whose console
    errors and uncaught exceptions are collected."""
    page = context.new_page()
    watch = PageWatch()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.set_default_timeout(10_000)
    return page, watch


@pytest.fixture()
def context(console: Console, browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (own cookies) whose relative URLs resolve on the server."""
    ctx = browser.new_context(base_url=console.base_url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: BrowserContext) -> Iterator[Page]:
    """A page under the console's real CSP; the test fails if the console itself trips the
    CSP (inline code) or throws uncaught JavaScript errors."""
    opened, watch = open_page(context)
    yield opened
    assert not watch.csp_violations(), watch.csp_violations()
    assert not watch.page_errors, watch.page_errors
