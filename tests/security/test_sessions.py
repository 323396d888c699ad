"""Console sessions: a new token at every login and tenant switch, never one the browser
brought, and server-side ends (logout, a new password, deactivation)."""

from __future__ import annotations

import secrets

import httpx
from sqlalchemy import func, select

from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.models import WebSession
from muster.models.enums import Role
from muster.web.sessions import COOKIE, hash_token
from tests.factories import TenantKeys
from tests.web.conftest import add_member, login, page_token


def stored(db: Database, token: str) -> int:
    """How many live session rows a cookie token has (0 or 1)."""
    with unit_of_work(db, SystemContext()) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(WebSession)
                .where(WebSession.token_hash == hash_token(token))
            )
            or 0
        )


def works(base_url: str, token: str) -> bool:
    """True when a browser holding only this cookie sees the queue."""
    with httpx.Client(base_url=base_url, cookies={COOKIE: token}, timeout=30) as http:
        return http.get("/ui/queue").status_code == 200


def member_id(client: httpx.Client, tenant: TenantKeys, email: str) -> str:
    users = client.get("/api/v1/users", headers=tenant.headers(Role.TENANT_ADMIN)).json()
    return str(next(u["id"] for u in users if u["email"] == email))


def test_a_token_brought_to_the_login_is_never_adopted(
    base_url: str, db: Database, tenant: TenantKeys
) -> None:
    email, password = add_member(db, tenant.id)
    planted = secrets.token_urlsafe(32)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        http.cookies.set(COOKIE, planted, domain="127.0.0.1", path="/ui")
        assert http.get("/ui/login").status_code == 200
        assert login(http, email, password).status_code == 303
        issued = http.cookies[COOKIE]
        assert issued != planted
        first = issued
        assert login(http, email, password).status_code == 303  # logged in already: rotated
        second = http.cookies[COOKIE]
    assert second != first
    assert stored(db, planted) == 0 and stored(db, first) == 0 and stored(db, second) == 1
    assert not works(base_url, planted) and not works(base_url, first)
    assert works(base_url, second)


def test_switching_tenant_issues_a_new_token(
    base_url: str, db: Database, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    email, password = add_member(db, tenant.id)
    add_member(db, other_tenant.id, email=email)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert login(http, email, password).status_code == 303
        before, csrf = http.cookies[COOKIE], page_token(http)
        resp = http.post("/ui/tenant", data={"csrf_token": csrf, "tenant": str(other_tenant.id)})
        assert resp.status_code == 303
        after = http.cookies[COOKIE]
        assert after != before
        assert page_token(http) == csrf  # open pages' forms keep working
        page = http.get("/ui/queue").text
        assert f'value="{other_tenant.id}" selected' in page
    assert stored(db, before) == 0 and not works(base_url, before)
    assert works(base_url, after)


def test_logout_ends_the_session_on_the_server(
    base_url: str, db: Database, tenant: TenantKeys
) -> None:
    email, password = add_member(db, tenant.id)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert login(http, email, password).status_code == 303
        token = http.cookies[COOKIE]
        assert stored(db, token) == 1
        assert http.post("/ui/logout", data={"csrf_token": page_token(http)}).status_code == 303
    assert stored(db, token) == 0


def test_a_new_password_or_a_deactivation_ends_the_users_sessions(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys
) -> None:
    email, password = add_member(db, tenant.id)
    user = member_id(client, tenant, email)
    admin = tenant.headers(Role.TENANT_ADMIN)
    with httpx.Client(base_url=base_url, timeout=30) as bystander:
        assert login(bystander, *add_member(db, tenant.id)).status_code == 303
        kept = bystander.cookies[COOKIE]  # someone else's session is untouched
    for change in ({"password": "a-brand-new-password"}, {"active": False}):
        with httpx.Client(base_url=base_url, timeout=30) as http:
            assert login(http, email, password).status_code == 303
            token = http.cookies[COOKIE]
        resp = client.patch(f"/api/v1/users/{user}", json=change, headers=admin)
        assert resp.status_code == 200, resp.text
        assert stored(db, token) == 0 and not works(base_url, token)
        assert works(base_url, kept)
        password = str(change.get("password", password))
