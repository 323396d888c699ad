"""The grouping rules page over real HTTP: rules in the service's order, enable/disable and
move up/down for tenant admins only, another tenant's rules not found."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys
from tests.web.conftest import logged_in, page_token


@pytest.fixture()
def admin(base_url: str, db: Database, tenant: TenantKeys) -> Iterator[httpx.Client]:
    with logged_in(base_url, db, tenant, Role.TENANT_ADMIN) as http:
        yield http


def api_rules(client: httpx.Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    resp = client.get("/api/v1/grouping-rules", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    rules: list[dict[str, Any]] = resp.json()
    return rules


def page_order(page: str) -> list[str]:
    return re.findall(r'<tr data-rule-id="([0-9a-f-]{36})">', page)


def add_rule(client: httpx.Client, tenant: TenantKeys, **fields: Any) -> dict[str, Any]:
    body = {"name": f"rule {uuid.uuid4().hex[:6]}", "keyFields": ["hostname"], **fields}
    body.setdefault("windowSeconds", 3600)
    resp = client.post(
        "/api/v1/grouping-rules", json=body, headers=tenant.headers(Role.TENANT_ADMIN)
    )
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def test_rules_show_in_evaluation_order(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    extra = add_rule(client, tenant, filter='source = "EDR"', maxAlerts=77, windowSeconds=5400)
    page = admin.get("/ui/grouping")
    assert page.status_code == 200
    rules = api_rules(client, tenant)
    assert page_order(page.text) == [r["id"] for r in rules]
    row = re.search(rf'<tr data-rule-id="{extra["id"]}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert ">77<" in row.group(1) and ">90m<" in row.group(1) and "hostname" in row.group(1)
    assert "source = &#34;EDR&#34;" in row.group(1) or "source = &quot;EDR&quot;" in row.group(1)


def test_an_admin_toggles_and_moves_rules(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    add_rule(client, tenant)
    before = [r["id"] for r in api_rules(client, tenant)]
    assert len(before) >= 2
    token = page_token(admin, "/ui/grouping")
    last = before[-1]
    moved = admin.post(f"/ui/grouping/{last}/move", data={"csrf_token": token, "direction": "up"})
    assert moved.status_code == 303
    expected = [*before[:-2], before[-1], before[-2]]
    assert [r["id"] for r in api_rules(client, tenant)] == expected
    assert page_order(admin.get("/ui/grouping").text) == expected
    first = expected[0]
    down = admin.post(f"/ui/grouping/{first}/move", data={"csrf_token": token, "direction": "down"})
    assert down.status_code == 303
    assert [r["id"] for r in api_rules(client, tenant)] == [expected[1], first, *expected[2:]]
    was = {r["id"]: r["enabled"] for r in api_rules(client, tenant)}[first]
    toggled = admin.post(
        f"/ui/grouping/{first}/enabled",
        data={"csrf_token": token, "enabled": "false" if was else "true"},
    )
    assert toggled.status_code == 303
    assert {r["id"]: r["enabled"] for r in api_rules(client, tenant)}[first] is (not was)


def test_moving_past_the_end_changes_nothing(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    before = [r["id"] for r in api_rules(client, tenant)]
    token = page_token(admin, "/ui/grouping")
    resp = admin.post(
        f"/ui/grouping/{before[0]}/move", data={"csrf_token": token, "direction": "up"}
    )
    assert resp.status_code == 303
    assert [r["id"] for r in api_rules(client, tenant)] == before
    bad = admin.post(f"/ui/grouping/{before[0]}/move", data={"csrf_token": token, "direction": "x"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_other_roles_read_only(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys, role: Role
) -> None:
    before = api_rules(client, tenant)
    with logged_in(base_url, db, tenant, role) as http:
        page = http.get("/ui/grouping")
        assert page.status_code == 200 and page_order(page.text) == [r["id"] for r in before]
        assert "/move" not in page.text
        token = page_token(http, "/ui/grouping")
        rule = before[0]["id"]
        data = {"csrf_token": token, "enabled": "false"}
        assert http.post(f"/ui/grouping/{rule}/enabled", data=data).status_code == 403
        data = {"csrf_token": token, "direction": "down"}
        assert http.post(f"/ui/grouping/{rule}/move", data=data).status_code == 403
    assert api_rules(client, tenant) == before


def test_another_tenants_rule_is_not_found(
    admin: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
) -> None:
    theirs = api_rules(client, other_tenant)[0]
    token = page_token(admin, "/ui/grouping")
    data = {"csrf_token": token, "enabled": "false" if theirs["enabled"] else "true"}
    assert admin.post(f"/ui/grouping/{theirs['id']}/enabled", data=data).status_code == 404
    data = {"csrf_token": token, "direction": "down"}
    assert admin.post(f"/ui/grouping/{theirs['id']}/move", data=data).status_code == 404
    assert api_rules(client, other_tenant)[0] == theirs
    assert theirs["id"] not in admin.get("/ui/grouping").text


def test_without_the_csrf_token_nothing_changes(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    before = api_rules(client, tenant)
    rule = before[0]["id"]
    assert admin.post(f"/ui/grouping/{rule}/enabled", data={"enabled": "false"}).status_code == 403
    assert api_rules(client, tenant) == before
