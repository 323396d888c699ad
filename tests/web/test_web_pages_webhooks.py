"""The webhook pages over real HTTP: create a subscription (the secret shown once), the
delivery log of a real receiver, redeliver, roles and tenancy."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from tests.api.apicalls import wait_for
from tests.api.webhook_receiver import Receiver, receiving
from tests.factories import TenantKeys
from tests.web.conftest import logged_in, page_token


@pytest.fixture()
def admin(base_url: str, db: Database, tenant: TenantKeys) -> Iterator[httpx.Client]:
    with logged_in(base_url, db, tenant, Role.TENANT_ADMIN) as http:
        yield http


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def api_hooks(client: httpx.Client, tenant: TenantKeys) -> dict[str, dict[str, Any]]:
    resp = client.get("/api/v1/webhooks", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return {h["name"]: h for h in resp.json()}


def api_deliveries(client: httpx.Client, tenant: TenantKeys, hook: str) -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def delivery_rows(page: str) -> dict[str, dict[str, str]]:
    """delivery id -> {cell class: text} of `table#deliveries`."""
    table = re.search(r'<table id="deliveries".*?</table>', page, re.S)
    assert table is not None, page
    out = {}
    for ident, row in re.findall(
        r'<tr data-delivery-id="([0-9a-f-]{36})">(.*?)</tr>', table.group(0), re.S
    ):
        cells = re.findall(r'<td class="([\w-]+)">(.*?)</td>', row, re.S)
        out[ident] = {
            name: html.unescape(re.sub(r"<[^>]+>", "", text)).strip() for name, text in cells
        }
    return out


def create(admin: httpx.Client, receiver: Receiver, name: str) -> tuple[httpx.Response, str]:
    path = receiver.path()
    token = page_token(admin, "/ui/webhooks")
    resp = admin.post(
        "/ui/webhooks",
        data={
            "csrf_token": token,
            "name": name,
            "url": receiver.url(path),
            "events": "incident.created, sla.breached",
        },
    )
    return resp, path


def test_create_shows_the_secret_once_and_the_log_fills(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
) -> None:
    name = f"hook {uuid.uuid4().hex[:6]}"
    resp, path = create(admin, receiver, name)
    assert resp.status_code == 200, resp.text
    hook = api_hooks(client, tenant)[name]
    assert hook["events"] == ["incident.created", "sla.breached"]
    assert hook["url"] == receiver.url(path)
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', resp.text)
    assert secret is not None and secret.group(1).endswith(hook["secretHint"].lstrip("…"))
    again = admin.get(f"/ui/webhooks/{hook['id']}")
    assert again.status_code == 200 and secret.group(1) not in again.text
    listing = admin.get("/ui/webhooks")
    assert f'data-webhook-id="{hook["id"]}"' in listing.text and name in listing.text

    token = page_token(admin, f"/ui/webhooks/{hook['id']}")
    assert (
        admin.post(f"/ui/webhooks/{hook['id']}/test", data={"csrf_token": token}).status_code == 303
    )
    wait_for(
        lambda: {"items": api_deliveries(client, tenant, hook["id"])},
        lambda got: bool(got["items"]) and got["items"][0]["state"] == "delivered",
    )
    assert len(receiver.at(path)) == 1
    (first,) = api_deliveries(client, tenant, hook["id"])
    rows = delivery_rows(admin.get(f"/ui/webhooks/{hook['id']}").text)
    assert rows[first["id"]]["event"] == first["eventType"]
    assert rows[first["id"]]["status-code"] == str(first["lastStatusCode"]) == "200"
    assert rows[first["id"]]["attempt"] == str(first["attempts"])

    redo = admin.post(
        f"/ui/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver", data={"csrf_token": token}
    )
    assert redo.status_code == 303
    wait_for(lambda: {"n": len(receiver.at(path))}, lambda got: got["n"] == 2)
    log = api_deliveries(client, tenant, hook["id"])
    assert len(log) == 2 and {d["eventType"] for d in log} == {first["eventType"]}
    assert set(delivery_rows(admin.get(f"/ui/webhooks/{hook['id']}").text)) == {
        d["id"] for d in log
    }


def test_a_private_or_bad_url_is_refused_by_name(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    token = page_token(admin, "/ui/webhooks")
    resp = admin.post(
        "/ui/webhooks",
        data={"csrf_token": token, "name": "bad", "url": "ftp://example.test/x", "events": "*"},
    )
    assert resp.status_code == 400 and "url" in resp.text.lower()
    resp = admin.post(
        "/ui/webhooks", data={"csrf_token": token, "name": "", "url": "", "events": ""}
    )
    assert resp.status_code == 400
    assert "bad" not in api_hooks(client, tenant)


def test_an_analyst_reads_but_cannot_change(
    base_url: str,
    db: Database,
    admin: httpx.Client,
    client: httpx.Client,
    tenant: TenantKeys,
    receiver: Receiver,
) -> None:
    name = f"hook {uuid.uuid4().hex[:6]}"
    create(admin, receiver, name)
    hook = api_hooks(client, tenant)[name]
    with logged_in(base_url, db, tenant, Role.ANALYST) as http:
        listing = http.get("/ui/webhooks")
        assert listing.status_code == 200 and name in listing.text
        assert 'id="webhook-form"' not in listing.text
        assert http.get(f"/ui/webhooks/{hook['id']}").status_code == 200
        token = page_token(http, "/ui/webhooks")
        data = {"csrf_token": token, "name": "mine", "url": receiver.url("/x"), "events": "*"}
        assert http.post("/ui/webhooks", data=data).status_code == 403
        assert (
            http.post(f"/ui/webhooks/{hook['id']}/test", data={"csrf_token": token}).status_code
            == 403
        )
    assert "mine" not in api_hooks(client, tenant)
    assert api_deliveries(client, tenant, hook["id"]) == []


def test_a_viewer_is_refused(base_url: str, db: Database, tenant: TenantKeys) -> None:
    with logged_in(base_url, db, tenant, Role.VIEWER) as http:
        assert http.get("/ui/webhooks").status_code == 403


def test_another_tenants_webhook_is_not_found(
    admin: httpx.Client, client: httpx.Client, other_tenant: TenantKeys, receiver: Receiver
) -> None:
    body = {"name": "theirs", "url": receiver.url(receiver.path()), "events": ["*"]}
    resp = client.post(
        "/api/v1/webhooks", json=body, headers=other_tenant.headers(Role.TENANT_ADMIN)
    )
    assert resp.status_code == 201, resp.text
    theirs = resp.json()["id"]
    assert admin.get(f"/ui/webhooks/{theirs}").status_code == 404
    token = page_token(admin, "/ui/webhooks")
    assert admin.post(f"/ui/webhooks/{theirs}/test", data={"csrf_token": token}).status_code == 404
    assert api_deliveries(client, other_tenant, theirs) == []
