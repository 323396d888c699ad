"""Logging in and out of the web console, over real HTTP: sessions, rotation, CSRF, headers."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from muster.clock import SystemClock
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.models import Tenant, WebSession
from muster.web.sessions import hash_token
from tests.factories import TenantKeys
from tests.web.conftest import CSRF_INPUT, assert_secure, login, page_token


def session_cookie(resp: httpx.Response) -> str:
    """The Set-Cookie header of the session."""
    found = [
        v for k, v in resp.headers.multi_items() if k == "set-cookie" and "muster_session=" in v
    ]
    assert len(found) == 1, resp.headers
    return found[0]


class TestLogin:
    def test_the_login_form(self, client: httpx.Client) -> None:
        resp = client.get("/ui/login")
        assert resp.status_code == 200
        assert_secure(resp)
        html = resp.text
        assert 'id="login-form"' in html
        for field in ('name="email"', 'name="password"', 'name="csrf_token"', 'type="submit"'):
            assert field in html
        assert "<style" not in html and "style=" not in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"

    def test_a_member_logs_in_and_sees_the_queue(
        self, client: httpx.Client, web_user: tuple[str, str]
    ) -> None:
        resp = login(client, *web_user)
        assert resp.status_code == 303, resp.text
        assert resp.headers["location"] == "/ui/queue"
        cookie = session_cookie(resp).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
        queue = client.get("/ui/queue")
        assert queue.status_code == 200
        assert f'<span id="whoami">{web_user[0]}</span>' in queue.text

    def test_wrong_password_and_unknown_user_get_the_same_answer(
        self, client: httpx.Client, web_user: tuple[str, str]
    ) -> None:
        wrong = login(client, web_user[0], "not-the-password")
        unknown = login(client, "nobody-" + web_user[0], web_user[1])
        assert wrong.status_code == unknown.status_code == 401
        messages = [re.search(r'role="alert"[^>]*>([^<]+)<', r.text) for r in (wrong, unknown)]
        assert all(messages) and messages[0].group(1) == messages[1].group(1)  # type: ignore[union-attr]
        assert "muster_session" not in client.cookies
        assert client.get("/ui/queue").status_code == 303

    def test_login_goes_back_to_the_page_asked_for(
        self, client: httpx.Client, web_user: tuple[str, str]
    ) -> None:
        first = client.get("/ui/queue?status=OPEN")
        assert first.status_code == 303
        assert first.headers["location"] == "/ui/login?next=%2Fui%2Fqueue%3Fstatus%3DOPEN"
        form = client.get(first.headers["location"])
        token = CSRF_INPUT.search(form.text)
        assert token is not None and 'value="/ui/queue?status=OPEN"' in form.text
        resp = client.post(
            "/ui/login",
            data={
                "email": web_user[0],
                "password": web_user[1],
                "csrf_token": token.group(1),
                "next": "/ui/queue?status=OPEN",
            },
        )
        assert resp.headers["location"] == "/ui/queue?status=OPEN"

    @pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui/queue"])
    def test_next_never_leaves_the_console(
        self, client: httpx.Client, web_user: tuple[str, str], target: str
    ) -> None:
        form = client.get("/ui/login")
        token = CSRF_INPUT.search(form.text)
        assert token is not None
        resp = client.post(
            "/ui/login",
            data={
                **dict(zip(("email", "password"), web_user, strict=True)),
                "csrf_token": token.group(1),
                "next": target,
            },
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/queue"

    def test_login_without_its_csrf_token_is_refused(
        self, client: httpx.Client, web_user: tuple[str, str]
    ) -> None:
        client.get("/ui/login")
        resp = client.post("/ui/login", data={"email": web_user[0], "password": web_user[1]})
        assert resp.status_code == 403
        assert_secure(resp)
        assert "muster_session" not in client.cookies


class TestSessions:
    def test_each_login_rotates_the_session_and_ends_the_old_one(
        self, client: httpx.Client, base_url: str, web_user: tuple[str, str]
    ) -> None:
        assert login(client, *web_user).status_code == 303
        first = client.cookies["muster_session"]
        assert login(client, *web_user).status_code == 303
        second = client.cookies["muster_session"]
        assert first != second
        with httpx.Client(base_url=base_url, cookies={"muster_session": first}) as old:
            resp = old.get("/ui/queue")
            assert resp.status_code == 303 and resp.headers["location"].startswith("/ui/login")
        assert client.get("/ui/queue").status_code == 200

    def test_logout_ends_the_session(
        self, client: httpx.Client, base_url: str, web_user: tuple[str, str]
    ) -> None:
        login(client, *web_user)
        token = client.cookies["muster_session"]
        resp = client.post("/ui/logout", data={"csrf_token": page_token(client)})
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/login"
        with httpx.Client(base_url=base_url, cookies={"muster_session": token}) as old:
            assert old.get("/ui/queue").status_code == 303

    def test_logout_without_the_token_is_refused_and_changes_nothing(
        self, client: httpx.Client, web_user: tuple[str, str]
    ) -> None:
        login(client, *web_user)
        for data in ({}, {"csrf_token": "forged"}):
            resp = client.post("/ui/logout", data=data)
            assert resp.status_code == 403, resp.text
            assert 'role="alert"' in resp.text
            assert_secure(resp)
        assert client.get("/ui/queue").status_code == 200

    def test_a_forged_cookie_is_sent_to_the_login_page(self, base_url: str) -> None:
        with httpx.Client(base_url=base_url, cookies={"muster_session": "made-up"}) as http:
            page = http.get("/ui/incidents/00000000-0000-0000-0000-000000000000")
            assert page.status_code == 303
            assert page.headers["location"].startswith("/ui/login?next=")
            assert_secure(page)
            partial = http.get("/ui/queue/rows", headers={"HX-Request": "true"})
            assert partial.headers["HX-Redirect"] == "/ui/login"


def stored_session(db: Database, cookie: str) -> WebSession | None:
    """The server-side row of a session cookie."""
    with unit_of_work(db, SystemContext()) as session:
        found = session.scalars(
            select(WebSession).where(WebSession.token_hash == hash_token(cookie))
        ).first()
        if found is not None:
            session.expunge(found)
        return found


def age_session(db: Database, cookie: str, by: timedelta) -> None:
    """Move a session's clock back: last seen and expiry both `by` earlier."""
    with unit_of_work(db, SystemContext(), write=True) as session:
        row = session.scalars(
            select(WebSession).where(WebSession.token_hash == hash_token(cookie))
        ).one()
        row.last_seen_at -= by
        row.expires_at -= by


class TestExpiry:
    def test_only_a_hash_of_the_token_is_stored(
        self, client: httpx.Client, db: Database, web_user: tuple[str, str]
    ) -> None:
        login(client, *web_user)
        cookie = client.cookies["muster_session"]
        row = stored_session(db, cookie)
        assert row is not None and row.token_hash != cookie and cookie not in row.csrf_token
        assert row.expires_at - row.created_at == timedelta(minutes=480)

    def test_an_idle_session_ends(
        self, client: httpx.Client, db: Database, web_user: tuple[str, str]
    ) -> None:
        login(client, *web_user)
        age_session(db, client.cookies["muster_session"], timedelta(minutes=481))
        resp = client.get("/ui/queue")
        assert resp.status_code == 303 and resp.headers["location"].startswith("/ui/login")

    def test_use_extends_the_session(
        self, client: httpx.Client, db: Database, web_user: tuple[str, str]
    ) -> None:
        login(client, *web_user)
        cookie = client.cookies["muster_session"]
        age_session(db, cookie, timedelta(minutes=470))
        before = stored_session(db, cookie)
        assert client.get("/ui/queue").status_code == 200
        after = stored_session(db, cookie)
        assert before is not None and after is not None
        assert after.expires_at - before.expires_at >= timedelta(minutes=469)

    def test_members_of_a_suspended_tenant_cannot_log_in(
        self, client: httpx.Client, db: Database, tenant: TenantKeys, web_user: tuple[str, str]
    ) -> None:
        with unit_of_work(db, SystemContext(), write=True) as session:
            found = session.get(Tenant, tenant.id)
            assert found is not None
            found.suspended = "unpaid invoice"
            found.updated_at = SystemClock().now()
        resp = login(client, *web_user)
        assert resp.status_code == 403
        assert "none of your tenants is open" in resp.text
        assert "muster_session" not in client.cookies


class TestEntryPoints:
    def test_the_root_leads_to_the_console(self, client: httpx.Client) -> None:
        root = client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/ui/"
        ui = client.get("/ui/")
        assert ui.status_code == 303 and ui.headers["location"] == "/ui/login"

    def test_a_logged_in_browser_goes_to_the_queue(self, web: httpx.Client) -> None:
        resp = web.get("/ui/")
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/queue"

    def test_static_assets_are_served_with_the_headers(self, client: httpx.Client) -> None:
        for path in (
            "/ui/static/app.js",
            "/ui/static/app.css",
            "/ui/static/vendor/htmx/htmx.min.js",
            "/ui/static/vendor/pico/pico.min.css",
            "/ui/static/vendor/chartjs/chart.umd.min.js",
        ):
            resp = client.get(path)
            assert resp.status_code == 200, path
            assert_secure(resp)

    def test_an_unknown_page_is_an_html_404(self, web: httpx.Client) -> None:
        resp = web.get("/ui/no-such-page")
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("text/html")
        assert_secure(resp)
