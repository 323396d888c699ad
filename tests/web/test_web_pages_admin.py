"""The admin pages over real HTTP: members (add with a password, who can then log in; change
role), API keys (minted once, working against the native API, revoked), tenants (global
admins only), and refusals for everyone else."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from muster.auth.keys import client_credentials
from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys
from tests.web.conftest import logged_in, login, page_token


@pytest.fixture()
def admin(base_url: str, db: Database, tenant: TenantKeys) -> Iterator[httpx.Client]:
    with logged_in(base_url, db, tenant, Role.TENANT_ADMIN) as http:
        yield http


def api_users(client: httpx.Client, tenant: TenantKeys) -> dict[str, dict[str, Any]]:
    resp = client.get("/api/v1/users", headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 200, resp.text
    return {u["email"]: u for u in resp.json()}


def minted(page: str) -> dict[str, str]:
    found = dict(re.findall(r'<code id="minted-([\w-]+)">([^<]+)</code>', page))
    assert set(found) == {"plaintext", "client-id", "client-secret"}, page
    return found


class TestMembers:
    def test_an_added_member_logs_in_with_the_password(
        self, base_url: str, admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        email = f"new-{uuid.uuid4().hex[:8]}@example.test"
        password = f"pw-{uuid.uuid4().hex}"
        token = page_token(admin, "/ui/admin/users")
        resp = admin.post(
            "/ui/admin/users",
            data={
                "csrf_token": token,
                "email": email,
                "name": "New One",
                "role": "viewer",
                "password": password,
            },
        )
        assert resp.status_code == 303, resp.text
        assert api_users(client, tenant)[email]["role"] == "viewer"
        assert email in admin.get("/ui/admin/users").text
        with httpx.Client(base_url=base_url) as fresh:
            assert login(fresh, email, password).status_code == 303
            assert fresh.get("/ui/queue").status_code == 200
        with httpx.Client(base_url=base_url) as wrong:
            assert login(wrong, email, password + "x").status_code == 401

    def test_a_role_changes(
        self, admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        member = api_users(client, tenant)[tenant.member_email]
        token = page_token(admin, "/ui/admin/users")
        resp = admin.post(
            f"/ui/admin/users/{member['id']}/role",
            data={"csrf_token": token, "role": "tenant_admin"},
        )
        assert resp.status_code == 303
        assert api_users(client, tenant)[tenant.member_email]["role"] == "tenant_admin"
        bad = admin.post(
            f"/ui/admin/users/{member['id']}/role", data={"csrf_token": token, "role": "king"}
        )
        assert bad.status_code == 400

    def test_a_short_password_is_refused(
        self, admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        email = f"short-{uuid.uuid4().hex[:8]}@example.test"
        token = page_token(admin, "/ui/admin/users")
        data = {
            "csrf_token": token,
            "email": email,
            "name": "S",
            "role": "analyst",
            "password": "short",
        }
        resp = admin.post("/ui/admin/users", data=data)
        assert resp.status_code == 400 and "password" in resp.text
        assert email not in api_users(client, tenant)

    def test_a_tenant_admin_cannot_make_global_admins(
        self, admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        email = f"g-{uuid.uuid4().hex[:8]}@example.test"
        token = page_token(admin, "/ui/admin/users")
        data = {"csrf_token": token, "email": email, "name": "G", "role": "global_admin"}
        assert admin.post("/ui/admin/users", data=data).status_code == 403
        assert email not in api_users(client, tenant)

    def test_another_tenants_member_is_not_found(
        self, admin: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
    ) -> None:
        theirs = api_users(client, other_tenant)[other_tenant.member_email]
        token = page_token(admin, "/ui/admin/users")
        resp = admin.post(
            f"/ui/admin/users/{theirs['id']}/role", data={"csrf_token": token, "role": "viewer"}
        )
        assert resp.status_code == 404
        assert api_users(client, other_tenant)[other_tenant.member_email]["role"] == theirs["role"]


class TestApiKeys:
    def test_a_minted_key_is_shown_once_works_and_revokes(
        self, admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        name = f"key {uuid.uuid4().hex[:6]}"
        token = page_token(admin, "/ui/admin/apikeys")
        resp = admin.post(
            "/ui/admin/apikeys", data={"csrf_token": token, "name": name, "role": "viewer"}
        )
        assert resp.status_code == 200, resp.text
        shown = minted(resp.text)
        key = shown["plaintext"]
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/incidents", headers=headers).status_code == 200
        refused = client.post("/api/v1/incidents", json={"description": "x"}, headers=headers)
        assert refused.status_code == 403  # a viewer key, as minted
        # the same key as the HTTP Basic pair of the ContraForce v2 API
        assert client_credentials(key) == (shown["client-id"], shown["client-secret"])
        listing = admin.get("/ui/admin/apikeys")
        assert key not in listing.text and shown["client-secret"] not in listing.text
        row = re.search(
            rf'<tr data-key-id="([0-9a-f-]+)">\s*<td class="name">{name}</td>', listing.text
        )
        assert row is not None
        revoke = admin.post(f"/ui/admin/apikeys/{row.group(1)}/revoke", data={"csrf_token": token})
        assert revoke.status_code == 303
        assert client.get("/api/v1/incidents", headers=headers).status_code == 401

    def test_another_tenants_key_is_not_found(
        self, admin: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
    ) -> None:
        keys = client.get("/api/v1/apikeys", headers=other_tenant.headers(Role.TENANT_ADMIN)).json()
        token = page_token(admin, "/ui/admin/apikeys")
        theirs = keys[0]["id"]
        assert (
            admin.post(f"/ui/admin/apikeys/{theirs}/revoke", data={"csrf_token": token}).status_code
            == 404
        )
        assert (
            client.get("/api/v1/incidents", headers=other_tenant.headers(Role.VIEWER)).status_code
            == 200
        )

    def test_a_tenant_admin_cannot_mint_global_keys(self, admin: httpx.Client) -> None:
        token = page_token(admin, "/ui/admin/apikeys")
        data = {"csrf_token": token, "name": "root", "role": "global_admin"}
        resp = admin.post("/ui/admin/apikeys", data=data)
        assert resp.status_code == 403 and 'id="minted-plaintext"' not in resp.text


class TestTenants:
    def test_a_global_admin_lists_and_creates_tenants(
        self, base_url: str, db: Database, tenant: TenantKeys, global_key: str, client: httpx.Client
    ) -> None:
        with logged_in(base_url, db, tenant, Role.GLOBAL_ADMIN) as http:
            page = http.get("/ui/admin/tenants")
            assert page.status_code == 200 and tenant.name in page.text
            name = f"made-{uuid.uuid4().hex[:8]}"
            token = page_token(http, "/ui/admin/tenants")
            resp = http.post("/ui/admin/tenants", data={"csrf_token": token, "name": name})
            assert resp.status_code == 303
            assert name in http.get("/ui/admin/tenants").text
            again = http.post("/ui/admin/tenants", data={"csrf_token": token, "name": name})
            assert again.status_code == 409
        listed = client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {global_key}"})
        assert [t["name"] for t in listed.json()].count(name) == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_members_without_admin_rights_are_refused(
    base_url: str, db: Database, tenant: TenantKeys, client: httpx.Client, role: Role
) -> None:
    with logged_in(base_url, db, tenant, role) as http:
        for path in ("/ui/admin/users", "/ui/admin/apikeys", "/ui/admin/tenants"):
            assert http.get(path).status_code == 403, path
        assert "/admin/" not in http.get("/ui/queue").text  # no admin links either
        token = page_token(http)
        data = {"csrf_token": token, "email": "x@example.test", "name": "X", "password": "p" * 12}
        assert http.post("/ui/admin/users", data=data).status_code == 403
        assert (
            http.post("/ui/admin/apikeys", data={"csrf_token": token, "name": "k"}).status_code
            == 403
        )
        assert (
            http.post("/ui/admin/tenants", data={"csrf_token": token, "name": "t"}).status_code
            == 403
        )
    assert "x@example.test" not in api_users(client, tenant)


def test_a_tenant_admin_may_not_see_tenants(admin: httpx.Client) -> None:
    assert admin.get("/ui/admin/tenants").status_code == 403
    page = admin.get("/ui/admin/users")
    assert page.status_code == 200 and "/ui/admin/tenants" not in page.text


def test_without_the_csrf_token_nothing_is_minted(admin: httpx.Client) -> None:
    assert admin.post("/ui/admin/apikeys", data={"name": "forged"}).status_code == 403
    assert "forged" not in admin.get("/ui/admin/apikeys").text
