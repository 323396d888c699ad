"""Webhooks over HTTP: subscriptions, signed deliveries to a real loopback receiver, retries,
the delivery log, redelivery, test pings, ContraForce style, disabling and tenant isolation.

The shared server allows loopback targets and retries after 0.2 s, 0.4 s...; the tests that
exhaust attempts or refuse private targets run their own server on a fresh database.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from muster.config import Settings
from muster.db.engine import create_db_engine
from muster.db.migrate import upgrade
from muster.models.enums import Role
from muster.notify.webhooks.signing import verify
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    ingest,
    patch_incident,
    post_alerts,
    wait_for,
)
from tests.api.webhook_receiver import Received, Receiver, receiving
from tests.conftest import fresh_database_url, serve
from tests.factories import TenantKeys, alert, make_tenant

SECRET = "s3cret-for-tests-0123456789"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


def subscribe(
    client: httpx.Client, tenant: TenantKeys, url: str, events: list[str], **over: Any
) -> dict[str, Any]:
    """Create a subscription as the tenant admin; return the answer."""
    body = {"name": f"hook {uuid.uuid4().hex[:6]}", "url": url, "events": events, **over}
    resp = client.post("/api/v1/webhooks", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def deliveries(
    client: httpx.Client, tenant: TenantKeys, webhook_id: str, **params: Any
) -> list[dict[str, Any]]:
    """The first page of a subscription's delivery log, newest first."""
    resp = client.get(
        f"/api/v1/webhooks/{webhook_id}/deliveries", params=params, headers=tenant.headers()
    )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def settled(
    client: httpx.Client, tenant: TenantKeys, webhook_id: str, count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """Wait until `count` deliveries exist and none is pending; return them, oldest first."""

    def done(page: dict[str, Any]) -> bool:
        items = page["items"]
        return len(items) >= count and all(d["state"] != "pending" for d in items)

    page = wait_for(lambda: {"items": deliveries(client, tenant, webhook_id)}, done, timeout)
    return list(reversed(page["items"]))


def received(receiver: Receiver, path: str, count: int, timeout: float = 20) -> list[Received]:
    """Wait until `path` received `count` requests."""
    wait_for(lambda: {"n": len(receiver.at(path))}, lambda r: r["n"] >= count, timeout)
    return receiver.at(path)


def verified(request: Received, secret: str = SECRET) -> bool:
    return verify(secret, request.body, request.headers, now=time.time())


class TestSubscriptions:
    def test_create_shows_the_secret_once(self, client: httpx.Client, tenant: TenantKeys) -> None:
        created = subscribe(client, tenant, "http://127.0.0.1:9/x", ["incident.created"])
        assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
        assert created["secretHint"] == "…" + created["secret"][-4:]
        assert created["enabled"] is True and created["consecutiveFailures"] == 0
        assert created["signatureStyle"] == "standard"
        read = client.get(f"/api/v1/webhooks/{created['id']}", headers=tenant.headers())
        assert read.status_code == 200
        assert read.json()["secret"] is None
        assert read.json()["secretHint"] == created["secretHint"]

    def test_a_given_secret_is_kept(self, client: httpx.Client, tenant: TenantKeys) -> None:
        created = subscribe(client, tenant, "http://127.0.0.1:9/x", ["*"], secret=SECRET)
        assert created["secret"] == SECRET
        assert created["events"] == ["*"]

    def test_unknown_event_types_are_named(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = {
            "name": "bad",
            "url": "http://127.0.0.1:9/x",
            "events": ["incident.created", "incident.exploded", "alert.eaten"],
        }
        resp = client.post("/api/v1/webhooks", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
        problem = assert_problem(resp, 400, "webhook.unknown_event_type", "events")
        assert "incident.exploded" in problem["detail"] and "alert.eaten" in problem["detail"]
        assert problem["errors"][0]["unknown"] == ["alert.eaten", "incident.exploded"]

    @pytest.mark.parametrize(
        ("url", "code"),
        [
            ("ftp://127.0.0.1/x", "webhook.invalid_url"),
            ("file:///etc/passwd", "webhook.invalid_url"),
            ("not a url", "webhook.invalid_url"),
        ],
    )
    def test_only_http_urls(
        self, client: httpx.Client, tenant: TenantKeys, url: str, code: str
    ) -> None:
        body = {"name": "bad", "url": url, "events": ["incident.created"]}
        resp = client.post("/api/v1/webhooks", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
        assert_problem(resp, 400, code, "url")

    def test_roles(self, client: httpx.Client, tenant: TenantKeys) -> None:
        created = subscribe(client, tenant, "http://127.0.0.1:9/x", ["incident.created"])
        path = f"/api/v1/webhooks/{created['id']}"
        assert_problem(client.get(path, headers=tenant.headers(Role.VIEWER)), 403)
        assert client.get(path, headers=tenant.headers(Role.ANALYST)).status_code == 200
        assert_problem(client.patch(path, json={"name": "x"}, headers=tenant.headers()), 403)
        assert_problem(
            client.post(
                "/api/v1/webhooks",
                json={"name": "x", "url": "http://127.0.0.1:9/", "events": ["*"]},
                headers=tenant.headers(),
            ),
            403,
        )

    def test_patch_rotate_and_delete(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        created = subscribe(client, tenant, "http://127.0.0.1:9/x", ["incident.created"])
        path = f"/api/v1/webhooks/{created['id']}"
        resp = client.patch(
            path,
            json={"name": "renamed", "events": ["sla.breached", "sla.at_risk"]},
            headers=admin,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["name"] == "renamed"
        assert resp.json()["events"] == ["sla.at_risk", "sla.breached"]
        assert resp.json()["secret"] is None
        rotated = client.patch(path, json={"rotateSecret": True}, headers=admin).json()
        assert rotated["secret"] and rotated["secret"] != created["secret"]
        assert_problem(client.patch(path, json={"url": None}, headers=admin), 400, field="url")
        assert client.delete(path, headers=admin).status_code == 204
        assert_problem(client.get(path, headers=admin), 404, "webhook.not_found")
        listed = client.get("/api/v1/webhooks", headers=admin).json()
        assert created["id"] not in {w["id"] for w in listed}


class TestDeliveries:
    def test_incident_created_is_signed_and_logged(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver, settings: Settings
    ) -> None:
        path = receiver.path()
        hook = subscribe(client, tenant, receiver.url(path), ["incident.created"], secret=SECRET)
        incident = create_incident(client, tenant, severity=4, tags=["vip"])
        (request,) = received(receiver, path, 1)
        assert verified(request)
        assert not verified(request, "another-secret-0123456789")
        tampered = Received(request.path, request.headers, request.body + b" ", request.at)
        assert not verified(tampered)
        (delivery,) = settled(client, tenant, hook["id"], 1)
        headers = request.headers
        assert headers["X-Muster-Event"] == "incident.created"
        assert headers["X-Muster-Delivery"] == delivery["id"]
        assert abs(int(headers["X-Muster-Timestamp"]) - time.time()) < 60
        body = request.json()
        assert body["type"] == "incident.created" and body["id"] == delivery["eventId"]
        assert body["tenant"] == {"id": str(tenant.id), "name": tenant.name}
        assert body["actor"]["type"] == "apikey"
        shown = body["incident"]
        assert shown["id"] == incident["id"] and shown["number"] == incident["number"]
        assert shown["incidentHash"] == incident["incidentHash"]
        assert shown["severity"] == 4 and shown["tags"] == ["vip"] and shown["status"] == "OPEN"
        assert shown["url"] == f"{settings.public_url}/incidents/{incident['id']}"
        assert delivery["state"] == "delivered" and delivery["attempts"] == 1
        (attempt,) = delivery["log"]
        assert attempt["statusCode"] == 200 and attempt["error"] is None
        assert attempt["durationMs"] >= 0 and attempt["address"] == "127.0.0.1"
        one = client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=tenant.headers()
        ).json()
        assert one["payload"] == body
        health = client.get(f"/api/v1/webhooks/{hook['id']}", headers=tenant.headers()).json()
        assert health["lastDeliveryAt"] is not None and health["consecutiveFailures"] == 0

    def test_status_and_assignee_changes_by_type(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
    ) -> None:
        path = receiver.path()
        wanted = ["incident.status_changed", "incident.assigned"]
        hook = subscribe(client, tenant, receiver.url(path), wanted, secret=SECRET)
        incident = create_incident(client, tenant)
        resp = patch_incident(client, tenant, incident["id"], status="UNDER_INVESTIGATION")
        assert resp.status_code == 200, resp.text
        resp = patch_incident(client, tenant, incident["id"], assignee=tenant.member_email)
        assert resp.status_code == 200, resp.text
        first, second = received(receiver, path, 2)
        assert [first.json()["type"], second.json()["type"]] == wanted
        assert first.json()["changes"]["status"] == ["OPEN", "UNDER_INVESTIGATION"]
        assert first.json()["incident"]["status"] == "UNDER_INVESTIGATION"
        assigned = second.json()
        assert assigned["changes"]["assignee"] == [None, tenant.member_email]
        assert assigned["incident"]["assigneeName"] == tenant.member_name
        assert all(verified(r) for r in (first, second))
        time.sleep(0.5)  # an incident.created delivery would have arrived by now
        assert len(receiver.at(path)) == 2
        assert len(deliveries(client, tenant, hook["id"])) == 2

    def test_alert_grouped_on_ingest(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
    ) -> None:
        path = receiver.path()
        subscribe(client, tenant, receiver.url(path), ["alert.grouped"], secret=SECRET)
        host = f"grouped-{uuid.uuid4().hex[:8]}"
        first = ingest(client, tenant, hostname=host)
        second = ingest(client, tenant, hostname=host, username="someone.else@corp.example")
        assert second["incidentId"] == first["incidentId"]
        (request,) = received(receiver, path, 1)
        body = request.json()
        assert body["type"] == "alert.grouped" and verified(request)
        assert body["incident"]["id"] == first["incidentId"]
        assert body["incident"]["alertCount"] == 2
        assert body["changes"]["alertIds"] == [second["alertId"]]

    def test_a_failure_is_retried_with_backoff(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver, settings: Settings
    ) -> None:
        path = receiver.path()
        receiver.answer(path, 500)
        hook = subscribe(client, tenant, receiver.url(path), ["incident.created"], secret=SECRET)
        create_incident(client, tenant)
        failed, ok = received(receiver, path, 2)
        assert ok.at - failed.at >= settings.webhook_retry_base_seconds * 0.9
        assert failed.body == ok.body and all(verified(r) for r in (failed, ok))
        assert failed.headers["X-Muster-Delivery"] == ok.headers["X-Muster-Delivery"]
        (delivery,) = settled(client, tenant, hook["id"], 1)
        assert delivery["state"] == "delivered" and delivery["attempts"] == 2
        assert [a["statusCode"] for a in delivery["log"]] == [500, 200]
        assert (
            "500" in delivery["log"][0]["error"]
            and "receiver says no" in (delivery["log"][0]["error"])
        )
        assert delivery["lastStatusCode"] == 200 and delivery["lastError"] is None

    def test_redelivery_sends_the_same_event_again(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
    ) -> None:
        path = receiver.path()
        hook = subscribe(client, tenant, receiver.url(path), ["incident.created"], secret=SECRET)
        create_incident(client, tenant)
        (original,) = settled(client, tenant, hook["id"], 1)
        resp = client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{original['id']}/redeliver",
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert resp.status_code == 202, resp.text
        again = resp.json()
        assert again["id"] != original["id"] and again["eventId"] == original["eventId"]
        assert again["state"] == "pending" and again["attempts"] == 0
        first, second = received(receiver, path, 2)
        assert first.body == second.body and verified(second)
        assert second.headers["X-Muster-Delivery"] == again["id"]
        newest, _ = deliveries(client, tenant, hook["id"])
        assert newest["id"] == again["id"]

    def test_test_ping(self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver) -> None:
        path = receiver.path()
        hook = subscribe(client, tenant, receiver.url(path), ["sla.breached"], secret=SECRET)
        resp = client.post(
            f"/api/v1/webhooks/{hook['id']}/test", headers=tenant.headers(Role.TENANT_ADMIN)
        )
        assert resp.status_code == 202, resp.text
        (request,) = received(receiver, path, 1)
        body = request.json()
        assert body["type"] == "ping" and body["isTest"] is True and verified(request)
        assert body["webhook"] == {"id": hook["id"], "name": hook["name"]}
        assert request.headers["X-Muster-Event"] == "ping"

    def test_contraforce_style(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
    ) -> None:
        path = receiver.path()
        subscribe(
            client,
            tenant,
            receiver.url(path),
            ["incident.created"],
            secret=SECRET,
            signatureStyle="contraforce",
        )
        host = f"cf-{uuid.uuid4().hex[:8]}"
        entities = [{"type": "host", "value": host}, {"type": "account", "value": "j.doe"}]
        item = post_alerts(client, tenant, alert(hostname=host, severity=4, entities=entities))
        incident_id = item["items"][0]["incidentId"]
        (request,) = received(receiver, path, 1)
        headers = request.headers
        assert headers["X-CF-Schema"] == "incident.created.v1"
        assert headers["X-CF-Signature"].startswith("sha256=")
        assert "X-Muster-Signature" not in headers and verified(request)
        envelope = request.json()
        assert set(envelope) == {"type", "timestamp", "isTest", "occurredAt", "data"}
        assert envelope["type"] == "incident.created" and envelope["isTest"] is False
        data = envelope["data"]
        assert headers["X-CF-Event-Id"] == data["eventId"]
        assert data["accountId"] == str(tenant.id) and data["accountName"] == tenant.name
        assert data["incidentId"] == incident_id and data["severity"] == "High"
        assert data["title"] == "Suspicious PowerShell download cradle"
        assert data["alertProductNames"] == ["Microsoft Defender for Endpoint"]
        assert data["alerts"] == [
            {
                "title": "Suspicious PowerShell download cradle",
                "severity": "High",
                "productName": "Microsoft Defender for Endpoint",
                "vendorName": "Microsoft Defender for Endpoint",
            }
        ]
        assert {"type": "host", "displayName": host} in data["entities"]
        assert data["owner"] is None and data["incidentNumber"] >= 1

    def test_other_tenants_see_nothing(
        self,
        client: httpx.Client,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
        receiver: Receiver,
    ) -> None:
        path = receiver.path()
        hook = subscribe(client, tenant, receiver.url(path), ["incident.created"])
        create_incident(client, tenant)
        (delivery,) = settled(client, tenant, hook["id"], 1)
        base = f"/api/v1/webhooks/{hook['id']}"
        admin = other_tenant.headers(Role.TENANT_ADMIN)
        calls = [
            ("GET", base, None),
            ("PATCH", base, {"name": "mine now"}),
            ("DELETE", base, None),
            ("GET", f"{base}/deliveries", None),
            ("GET", f"{base}/deliveries/{delivery['id']}", None),
            ("POST", f"{base}/deliveries/{delivery['id']}/redeliver", None),
            ("POST", f"{base}/test", None),
        ]
        for method, url, body in calls:
            assert_problem(client.request(method, url, json=body, headers=admin), 404)
        assert client.get("/api/v1/webhooks", headers=admin).json() == []
        mine = subscribe(client, other_tenant, receiver.url(receiver.path()), ["*"])
        assert_problem(
            client.get(f"/api/v1/webhooks/{mine['id']}/deliveries/{delivery['id']}", headers=admin),
            404,
            "webhook_delivery.not_found",
        )
        assert len(receiver.at(path)) == 1  # tenant B's events never reach A's receiver

    def test_delivery_log_pages_newest_first(
        self, client: httpx.Client, tenant: TenantKeys, receiver: Receiver
    ) -> None:
        hook = subscribe(client, tenant, receiver.url(receiver.path()), ["incident.created"])
        for _ in range(3):
            create_incident(client, tenant)
        settled(client, tenant, hook["id"], 3)
        first = client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries",
            params={"limit": 2},
            headers=tenant.headers(),
        ).json()
        assert len(first["items"]) == 2 and first["nextCursor"]
        rest = client.get(
            f"/api/v1/webhooks/{hook['id']}/deliveries",
            params={"limit": 2, "cursor": first["nextCursor"]},
            headers=tenant.headers(),
        ).json()
        assert len(rest["items"]) == 1 and rest["nextCursor"] is None
        stamps = [d["createdAt"] for d in first["items"] + rest["items"]]
        assert stamps == sorted(stamps, reverse=True)
        assert deliveries(client, tenant, hook["id"], state="failed") == []


# ------------------------------------------------------------------ servers of their own

IMPATIENT = {
    "webhook_allow_private_targets": True,
    "webhook_retry_base_seconds": 0.05,
    "webhook_max_attempts": 3,
    "webhook_disable_after_failures": 4,
}


@pytest.fixture(scope="module")
def impatient(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A server that gives up after 3 attempts and disables a webhook after 4 failures."""
    with fresh_database_url(backend, f"webhooks_impatient_{os.getpid()}", tmp_path_factory) as url:
        settings = Settings(database_url=url, gc_young_collection_every=0, **IMPATIENT)
        upgrade(settings)
        db = create_db_engine(settings)
        try:
            with serve(settings) as base:
                yield base, db
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def strict(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A server with the default SSRF rule: no private or loopback webhook targets."""
    with fresh_database_url(backend, f"webhooks_strict_{os.getpid()}", tmp_path_factory) as url:
        settings = Settings(database_url=url, gc_young_collection_every=0)
        assert settings.webhook_allow_private_targets is False
        upgrade(settings)
        db = create_db_engine(settings)
        try:
            with serve(settings) as base:
                yield base, db
        finally:
            db.dispose()


class TestGivingUp:
    def test_exhausted_attempts_fail_and_repeated_failures_disable(
        self, impatient: tuple[str, Any], receiver: Receiver
    ) -> None:
        base, db = impatient
        tenant = make_tenant(db)
        path = receiver.path()
        receiver.answer(path, *[503] * 10)
        with httpx.Client(base_url=base, timeout=30) as client:
            hook = subscribe(client, tenant, receiver.url(path), ["incident.created"])
            create_incident(client, tenant)
            (first,) = settled(client, tenant, hook["id"], 1)
            assert first["state"] == "failed" and first["attempts"] == 3
            assert [a["statusCode"] for a in first["log"]] == [503, 503, 503]
            health = client.get(f"/api/v1/webhooks/{hook['id']}", headers=tenant.headers())
            assert health.json()["enabled"] is True
            assert health.json()["consecutiveFailures"] == 3
            create_incident(client, tenant)  # its first failure is the 4th in a row
            _, second = settled(client, tenant, hook["id"], 2)
            assert second["state"] == "failed" and second["attempts"] == 1
            disabled = client.get(f"/api/v1/webhooks/{hook['id']}", headers=tenant.headers())
            assert disabled.json()["enabled"] is False
            assert "4 consecutive failed" in disabled.json()["disabledReason"]
            create_incident(client, tenant)  # nothing is sent while disabled
            time.sleep(0.5)
            assert len(receiver.at(path)) == 4
            admin = tenant.headers(Role.TENANT_ADMIN)
            refused = client.post(
                f"/api/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver",
                headers=admin,
            )
            assert_problem(refused, 409, "webhook.disabled")
            again = client.patch(
                f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}, headers=admin
            )
            assert again.json()["enabled"] is True and again.json()["consecutiveFailures"] == 0
            assert again.json()["disabledReason"] is None
            redone = client.post(
                f"/api/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver",
                headers=admin,
            )
            assert redone.status_code == 202
            received(receiver, path, 5)
            newest = deliveries(client, tenant, hook["id"])[0]
            assert newest["id"] == redone.json()["id"]


class TestPrivateTargets:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "http://[::1]/hook",
            "http://[fe80::1]/hook",
            "http://0.0.0.0/hook",
            "http://224.0.0.1/hook",
        ],
    )
    def test_refused_by_default(self, strict: tuple[str, Any], url: str) -> None:
        base, db = strict
        tenant = make_tenant(db)
        with httpx.Client(base_url=base, timeout=30) as client:
            resp = client.post(
                "/api/v1/webhooks",
                json={"name": "internal", "url": url, "events": ["*"]},
                headers=tenant.headers(Role.TENANT_ADMIN),
            )
            problem = assert_problem(resp, 400, "webhook.target_refused", "url")
            assert "webhook_allow_private_targets" in problem["detail"]

    def test_a_public_address_is_accepted(self, strict: tuple[str, Any]) -> None:
        base, db = strict
        tenant = make_tenant(db)
        with httpx.Client(base_url=base, timeout=30) as client:
            created = subscribe(client, tenant, "https://8.8.8.8/hook", ["incident.created"])
            resp = client.patch(
                f"/api/v1/webhooks/{created['id']}",
                json={"url": "http://127.0.0.2/"},
                headers=tenant.headers(Role.TENANT_ADMIN),
            )
            assert_problem(resp, 400, "webhook.target_refused", "url")
