"""Fixtures of the web console tests: a member who can log in, and a logged-in client.

`login(client, email, password)` logs in the way a browser does (the login form's CSRF token,
then the POST); the client's cookie jar then holds the session. `page_token(client)` reads the
session's CSRF token from a page, for the forms tests post.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from muster.clock import SystemClock
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models.enums import Role
from muster.tenants.schemas import UserCreate
from muster.tenants.users import create_user
from tests.factories import TenantKeys

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_member(
    db: Database, tenant_id: uuid.UUID, role: Role = Role.ANALYST, email: str | None = None
) -> tuple[str, str]:
    """Make a member of the tenant with a password (a new user, or an existing e-mail);
    (email, password)."""
    email = email or f"web-{uuid.uuid4().hex[:10]}@example.test"
    password = f"pw-{uuid.uuid4().hex}"
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        create_user(
            session,
            UserCreate(email=email, name=f"Web {role.value}", role=role, password=password),
            SystemClock().now(),
            by_global=True,
        )
    return email, password


@pytest.fixture()
def web_user(db: Database, tenant: TenantKeys) -> tuple[str, str]:
    """An analyst of `tenant` who logs in with a password: (email, password)."""
    return add_member(db, tenant.id)


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Log in through the form; the 303 answer (the cookie is now in the client's jar)."""
    form = client.get("/ui/login")
    assert form.status_code == 200, form.text
    token = CSRF_INPUT.search(form.text)
    assert token is not None, form.text
    resp = client.post(
        "/ui/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
    )
    return resp


@contextmanager
def logged_in(
    base_url: str, db: Database, tenant: TenantKeys, role: Role
) -> Iterator[httpx.Client]:
    """A client logged in as a new member of `tenant` with `role`."""
    email, password = add_member(db, tenant.id, role)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert login(http, email, password).status_code == 303
        yield http


def page_token(client: httpx.Client, path: str = "/ui/queue") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF_INPUT.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@pytest.fixture()
def web(base_url: str, web_user: tuple[str, str]) -> Iterator[httpx.Client]:
    """A client logged in as `web_user` (redirects are not followed)."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        resp = login(http, *web_user)
        assert resp.status_code == 303, resp.text
        yield http


def rows_of(html: str) -> list[str]:
    """The incident ids of the queue's rows, in order."""
    return re.findall(r'<tr data-incident-id="([0-9a-f-]{36})"', html)


def open_incident(client: httpx.Client, tenant: TenantKeys, **fields: object) -> str:
    """Open an incident by hand through the API; its id."""
    body = {"description": f"web test {uuid.uuid4().hex[:8]}", **fields}
    resp = client.post("/api/v1/incidents", json=body, headers=tenant.headers())
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def api_incident(client: httpx.Client, tenant: TenantKeys, incident_id: str) -> dict[str, object]:
    """The incident as the API returns it."""
    resp = client.get(f"/api/v1/incidents/{incident_id}", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


# the contract's policy (docs of issue 8): same-origin scripts and styles, nothing inline
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def assert_secure(resp: httpx.Response) -> None:
    """Every console response carries the security headers; the CSP allows no inline code."""
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, (name, resp.headers)
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    assert "unsafe-eval" not in resp.headers["content-security-policy"]
