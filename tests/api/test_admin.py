"""Administration over HTTP: tenants (and their suspension), users, API keys, grouping rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    global_headers,
    ingest,
    list_all,
    patch_incident,
)
from tests.factories import TenantKeys, alert

TENANTS = "/api/v1/tenants"
USERS = "/api/v1/users"
KEYS = "/api/v1/apikeys"
RULES = "/api/v1/grouping-rules"


def set_flags(
    client: httpx.Client, global_key: str, tenant_id: Any, **flags: Any
) -> dict[str, Any]:
    resp = client.patch(
        f"{TENANTS}/{tenant_id}", json={"flags": flags}, headers=global_headers(global_key)
    )
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


class TestTenants:
    def test_global_admin_crud(self, client: httpx.Client, global_key: str) -> None:
        g = global_headers(global_key)
        name = f"acme-{uuid.uuid4().hex[:8]}"
        resp = client.post(TENANTS, json={"name": name, "flags": {"demo": True}}, headers=g)
        assert resp.status_code == 201, resp.text
        made = resp.json()
        assert made["name"] == name and made["flags"]["demo"] is True
        assert made["flags"]["suspended"] is None
        assert client.get(f"{TENANTS}/{made['id']}", headers=g).json() == made
        assert made["id"] in {t["id"] for t in client.get(TENANTS, headers=g).json()}
        assert_problem(
            client.post(TENANTS, json={"name": name}, headers=g), 409, "tenant.name_taken"
        )
        renamed = client.patch(f"{TENANTS}/{made['id']}", json={"name": name + "-x"}, headers=g)
        assert renamed.status_code == 200 and renamed.json()["name"] == name + "-x"
        rules = client.get(RULES, headers=global_headers(global_key, made["id"]))
        assert rules.status_code == 200 and len(rules.json()) >= 1  # defaults seeded
        assert client.delete(f"{TENANTS}/{made['id']}", headers=g).status_code == 204
        assert_problem(client.get(f"{TENANTS}/{made['id']}", headers=g), 404, "tenant.not_found")
        assert made["id"] not in {t["id"] for t in client.get(TENANTS, headers=g).json()}

    def test_delete_tenant_with_data(self, client: httpx.Client, global_key: str, db: Any) -> None:
        from tests.factories import make_tenant

        doomed = make_tenant(db)
        item = ingest(client, doomed)
        create_incident(client, doomed, alertIds=[item["alertId"]])
        resp = client.delete(f"{TENANTS}/{doomed.id}", headers=global_headers(global_key))
        assert resp.status_code == 204, resp.text
        assert_problem(client.get("/api/v1/incidents", headers=doomed.headers()), 401)

    def test_tenant_admin_sees_only_its_own(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        listed = client.get(TENANTS, headers=admin)
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()] == [str(tenant.id)]
        assert client.get(f"{TENANTS}/{tenant.id}", headers=admin).json()["name"] == tenant.name
        assert_problem(client.get(f"{TENANTS}/{other_tenant.id}", headers=admin), 404)
        assert_problem(
            client.patch(f"{TENANTS}/{other_tenant.id}", json={"name": "mine"}, headers=admin), 404
        )
        assert_problem(client.delete(f"{TENANTS}/{other_tenant.id}", headers=admin), 404)
        renamed = client.patch(
            f"{TENANTS}/{tenant.id}", json={"name": tenant.name + "-r"}, headers=admin
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == tenant.name + "-r"

    def test_tenant_admin_cannot_create_delete_or_flag(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        assert_problem(
            client.post(TENANTS, json={"name": f"n-{uuid.uuid4().hex}"}, headers=admin), 403
        )
        assert_problem(client.delete(f"{TENANTS}/{tenant.id}", headers=admin), 403)
        assert_problem(
            client.patch(
                f"{TENANTS}/{tenant.id}",
                json={"flags": {"suspended": None, "demo": True}},
                headers=admin,
            ),
            403,
        )
        assert client.get(f"{TENANTS}/{tenant.id}", headers=admin).json()["flags"]["demo"] is False

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    def test_members_cannot_administer_tenants(
        self, client: httpx.Client, tenant: TenantKeys, role: Role
    ) -> None:
        assert_problem(client.get(TENANTS, headers=tenant.headers(role)), 403, "auth.role_required")
        assert_problem(
            client.patch(
                f"{TENANTS}/{tenant.id}", json={"name": "x"}, headers=tenant.headers(role)
            ),
            403,
        )

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"name": ""},
            {"name": "a\u0000b"},
            {"name": "x", "flags": {"eval": "soon"}},
            {"name": "x", "flags": {"frozen": True}},
            {"name": "x" * 201},
        ],
    )
    def test_bad_tenant_bodies(
        self, client: httpx.Client, global_key: str, body: dict[str, Any]
    ) -> None:
        assert_problem(client.post(TENANTS, json=body, headers=global_headers(global_key)), 400)


class TestSuspension:
    def test_suspend_and_resume(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        item = ingest(client, tenant)
        flagged = set_flags(client, global_key, tenant.id, suspended="unpaid invoices")
        assert flagged["flags"]["suspended"] == "unpaid invoices"
        for role in (Role.VIEWER, Role.ANALYST, Role.TENANT_ADMIN):
            resp = client.get("/api/v1/incidents", headers=tenant.headers(role))
            problem = assert_problem(resp, 403, "tenant.suspended")
            assert "unpaid invoices" in problem["detail"]
        resp = client.post("/api/v1/alerts", json=alert(), headers=tenant.headers())
        assert_problem(resp, 403, "tenant.suspended")
        as_global = global_headers(global_key, tenant.id)
        resp = client.post("/api/v1/alerts", json=alert(), headers=as_global)
        assert_problem(resp, 403, "tenant.suspended")
        resp = client.patch(
            f"/api/v1/incidents/{item['incidentId']}", json={"severity": 1}, headers=as_global
        )
        assert_problem(resp, 403, "tenant.suspended")
        admin = tenant.headers(Role.TENANT_ADMIN)
        for method, path in (
            ("GET", USERS),
            ("GET", KEYS),
            ("GET", RULES),
            ("GET", f"{TENANTS}/{tenant.id}"),
        ):
            assert_problem(client.request(method, path, headers=admin), 403, "tenant.suspended")
        read = client.get(f"/api/v1/incidents/{item['incidentId']}", headers=as_global)
        assert read.status_code == 200  # the MSSP may still look
        set_flags(client, global_key, tenant.id, suspended=None)
        assert client.get("/api/v1/incidents", headers=tenant.headers()).status_code == 200
        assert ingest(client, tenant)["incidentId"] == item["incidentId"]
        listed = list_all(client, "/api/v1/alerts", tenant.headers())
        assert len(listed) == 2  # the refused alerts left nothing behind

    def test_expired_evaluation_acts_like_suspension(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        past = datetime.now(UTC) - timedelta(days=1)
        set_flags(client, global_key, tenant.id, eval=past.isoformat())
        problem = assert_problem(
            client.get("/api/v1/incidents", headers=tenant.headers()), 403, "tenant.suspended"
        )
        assert "evaluation" in problem["detail"]
        assert_problem(
            client.post(
                "/api/v1/alerts", json=alert(), headers=global_headers(global_key, tenant.id)
            ),
            403,
            "tenant.suspended",
        )
        future = datetime.now(UTC) + timedelta(days=30)
        flagged = set_flags(client, global_key, tenant.id, eval=future.isoformat())
        assert flagged["flags"]["eval"] is not None
        assert client.get("/api/v1/incidents", headers=tenant.headers()).status_code == 200
        ingest(client, tenant)

    def test_suspension_is_per_tenant(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys, global_key: str
    ) -> None:
        set_flags(client, global_key, tenant.id, suspended="audit")
        ingest(client, other_tenant)
        set_flags(client, global_key, tenant.id, suspended=None)


class TestUsers:
    def test_crud(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        email = f"Vera.Viewer-{uuid.uuid4().hex[:6]}@Example.test"
        resp = client.post(
            USERS,
            json={"email": email, "name": "Vera Viewer", "role": "viewer", "title": "Tier 1"},
            headers=admin,
        )
        assert resp.status_code == 201, resp.text
        user = resp.json()
        assert user["email"] == email.lower() and user["role"] == "viewer"
        assert user["title"] == "Tier 1" and user["active"] is True
        assert "password" not in user and "passwordHash" not in user
        listed = client.get(USERS, headers=admin).json()
        assert {u["email"] for u in listed} == {tenant.member_email, email.lower()}
        assert client.get(f"{USERS}/{user['id']}", headers=admin).json() == user
        promoted = client.patch(
            f"{USERS}/{user['id']}", json={"role": "analyst", "name": "Vera V."}, headers=admin
        )
        assert promoted.status_code == 200
        assert promoted.json()["role"] == "analyst" and promoted.json()["name"] == "Vera V."
        assert_problem(
            client.post(USERS, json={"email": email, "name": "Again"}, headers=admin),
            409,
            "user.already_member",
        )
        assert client.delete(f"{USERS}/{user['id']}", headers=admin).status_code == 204
        assert_problem(client.get(f"{USERS}/{user['id']}", headers=admin), 404, "user.not_found")
        assert {u["email"] for u in client.get(USERS, headers=admin).json()} == {
            tenant.member_email
        }

    def test_one_user_in_two_tenants(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        email = f"shared-{uuid.uuid4().hex[:6]}@example.test"
        body = {"email": email, "name": "Sam Shared", "role": "analyst"}
        mine = client.post(USERS, json=body, headers=tenant.headers(Role.TENANT_ADMIN)).json()
        theirs = client.post(
            USERS,
            json={**body, "role": "tenant_admin"},
            headers=other_tenant.headers(Role.TENANT_ADMIN),
        )
        assert theirs.status_code == 201, theirs.text
        assert theirs.json()["id"] == mine["id"] and theirs.json()["role"] == "tenant_admin"
        assert (
            client.get(f"{USERS}/{mine['id']}", headers=tenant.headers(Role.TENANT_ADMIN)).json()[
                "role"
            ]
            == "analyst"
        )
        assert (
            client.delete(
                f"{USERS}/{mine['id']}", headers=other_tenant.headers(Role.TENANT_ADMIN)
            ).status_code
            == 204
        )
        still = client.get(f"{USERS}/{mine['id']}", headers=tenant.headers(Role.TENANT_ADMIN))
        assert still.status_code == 200 and still.json()["email"] == email

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "not-an-email", "name": "x"},
            {"email": "a@example.test"},
            {"email": "a@example.test", "name": "x", "role": "god"},
            {"email": "a@example.test", "name": "x", "password": "short"},
            {"email": "a@example.test", "name": "x", "admin": True},
        ],
    )
    def test_bad_user_bodies(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any]
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        assert_problem(client.post(USERS, json=body, headers=admin), 400)
        assert len(client.get(USERS, headers=admin).json()) == 1

    def test_tenant_admin_cannot_grant_global_admin(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        body = {
            "email": f"g-{uuid.uuid4().hex[:6]}@example.test",
            "name": "G",
            "role": "global_admin",
        }
        assert_problem(client.post(USERS, json=body, headers=admin), 403)
        (member,) = client.get(USERS, headers=admin).json()
        assert_problem(
            client.patch(f"{USERS}/{member['id']}", json={"role": "global_admin"}, headers=admin),
            403,
        )
        assert client.get(f"{USERS}/{member['id']}", headers=admin).json()["role"] == "analyst"

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    def test_members_cannot_manage_users(
        self, client: httpx.Client, tenant: TenantKeys, role: Role
    ) -> None:
        headers = tenant.headers(role)
        assert_problem(client.get(USERS, headers=headers), 403, "auth.role_required")
        body = {"email": f"x-{uuid.uuid4().hex[:6]}@example.test", "name": "X"}
        assert_problem(client.post(USERS, json=body, headers=headers), 403)

    def test_global_key_manages_users_of_a_tenant(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        g = global_headers(global_key, tenant.id)
        body = {"email": f"mssp-{uuid.uuid4().hex[:6]}@example.test", "name": "M"}
        assert client.post(USERS, json=body, headers=g).status_code == 201
        emails = {
            u["email"] for u in client.get(USERS, headers=tenant.headers(Role.TENANT_ADMIN)).json()
        }
        assert body["email"] in emails


class TestApiKeys:
    def test_mint_use_list_revoke(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        resp = client.post(KEYS, json={"name": "siem-forwarder", "role": "analyst"}, headers=admin)
        assert resp.status_code == 201, resp.text
        minted = resp.json()
        plaintext = minted["key"]
        assert minted["role"] == "analyst" and minted["tenantId"] == str(tenant.id)
        assert plaintext.split("_")[1] == minted["prefix"]
        new = {"Authorization": f"Bearer {plaintext}"}
        assert client.post("/api/v1/alerts", json=alert(), headers=new).status_code == 200
        listed = client.get(KEYS, headers=admin)
        assert listed.status_code == 200
        assert plaintext not in listed.text
        assert all("key" not in k and "keyHash" not in k for k in listed.json())
        assert minted["id"] in {k["id"] for k in listed.json()}
        assert {k["role"] for k in listed.json()} >= {"viewer", "analyst", "tenant_admin"}
        revoked = client.delete(f"{KEYS}/{minted['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
        assert "key" not in revoked.json()
        resp = client.get("/api/v1/incidents", headers=new)
        assert_problem(resp, 401, "auth.unauthenticated")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    def test_viewer_key_cannot_write(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        minted = client.post(
            KEYS, json={"name": "dashboards", "role": "viewer"}, headers=admin
        ).json()
        viewer = {"Authorization": f"Bearer {minted['key']}"}
        assert client.get("/api/v1/incidents", headers=viewer).status_code == 200
        assert_problem(
            client.post("/api/v1/alerts", json=alert(), headers=viewer), 403, "auth.role_required"
        )
        assert_problem(client.post(KEYS, json={"name": "x"}, headers=viewer), 403)

    def test_limits_on_minting(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        assert_problem(
            client.post(KEYS, json={"name": "x", "role": "global_admin"}, headers=admin), 403
        )
        assert_problem(
            client.post(KEYS, json={"name": "x", "role": "root"}, headers=admin), 400, field="role"
        )
        assert_problem(
            client.post(KEYS, json={"name": "x"}, headers=tenant.headers()),
            403,
            "auth.role_required",
        )
        theirs = client.get(KEYS, headers=other_tenant.headers(Role.TENANT_ADMIN)).json()
        for key in theirs:
            assert_problem(client.delete(f"{KEYS}/{key['id']}", headers=admin), 404)
        assert (
            client.get("/api/v1/incidents", headers=other_tenant.headers(Role.VIEWER)).status_code
            == 200
        )

    def test_global_key_scopes(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        in_tenant = client.get(KEYS, headers=global_headers(global_key, tenant.id)).json()
        assert {k["tenantId"] for k in in_tenant} == {str(tenant.id)}
        global_only = client.get(KEYS, headers=global_headers(global_key)).json()
        assert global_only and {k["tenantId"] for k in global_only} == {None}
        minted = client.post(
            KEYS,
            json={"name": "mssp-2", "role": "global_admin"},
            headers=global_headers(global_key),
        )
        assert minted.status_code == 201 and minted.json()["tenantId"] is None
        key = minted.json()
        assert client.delete(f"{KEYS}/{key['id']}", headers=global_headers(global_key)).json()[
            "revokedAt"
        ]
        assert_problem(client.get(TENANTS, headers={"Authorization": f"Bearer {key['key']}"}), 401)


class TestGroupingRules:
    def test_crud(self, client: httpx.Client, tenant: TenantKeys) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        defaults = client.get(RULES, headers=tenant.headers(Role.VIEWER)).json()
        assert len(defaults) >= 1
        assert [r["position"] for r in defaults] == sorted(r["position"] for r in defaults)
        body = {
            "name": "Same user, same source",
            "keyFields": ["username", "srcIp"],
            "windowSeconds": 7200,
            "maxAlerts": 50,
        }
        resp = client.post(RULES, json=body, headers=admin)
        assert resp.status_code == 201, resp.text
        rule = resp.json()
        for name, value in body.items():
            assert rule[name] == value
        assert rule["enabled"] is True and rule["tenantId"] == str(tenant.id)
        assert client.get(f"{RULES}/{rule['id']}", headers=admin).json() == rule
        changed = client.patch(
            f"{RULES}/{rule['id']}", json={"maxAlerts": 5, "keyFields": ["username"]}, headers=admin
        )
        assert changed.status_code == 200
        assert changed.json()["maxAlerts"] == 5 and changed.json()["keyFields"] == ["username"]
        assert client.delete(f"{RULES}/{rule['id']}", headers=admin).status_code == 204
        assert_problem(
            client.get(f"{RULES}/{rule['id']}", headers=admin), 404, "grouping_rule.not_found"
        )
        assert [r["id"] for r in client.get(RULES, headers=admin).json()] == [
            r["id"] for r in defaults
        ]

    def test_unknown_key_field_names_the_valid_ones(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = {"name": "typo", "keyFields": ["hostnmae"], "windowSeconds": 600}
        resp = client.post(RULES, json=body, headers=tenant.headers(Role.TENANT_ADMIN))
        problem = assert_problem(resp, 400, field="keyFields")
        assert "hostnmae" in problem["detail"]
        for valid in ("hostname", "ruleName", "username", "srcIp"):
            assert valid in problem["detail"], valid

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"keyFields": []}, "keyFields"),
            ({"keyFields": ["hostname", "hostname"]}, "keyFields"),
            ({"windowSeconds": 0}, "windowSeconds"),
            ({"windowSeconds": "1h"}, "windowSeconds"),
            ({"maxAlerts": 0}, "maxAlerts"),
            ({"position": -1}, "position"),
            ({"name": ""}, "name"),
            ({"colour": "red"}, "colour"),
            ({"filter": "severity >"}, "filter"),
            ({"filter": "sevrity > 2"}, "filter"),
            ({"filter": 'severity = "high"'}, "filter"),
        ],
    )
    def test_validation(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any], field: str
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        full = {"name": "r", "keyFields": ["hostname"], "windowSeconds": 600, **body}
        assert_problem(client.post(RULES, json=full, headers=admin), 400, field=field)
        rules = client.get(RULES, headers=admin).json()
        assert "r" not in {r["name"] for r in rules}
        assert_problem(
            client.patch(f"{RULES}/{rules[0]['id']}", json=body, headers=admin), 400, field=field
        )
        assert client.get(RULES, headers=admin).json() == rules

    def test_null_for_required_fields_on_patch(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        admin = tenant.headers(Role.TENANT_ADMIN)
        rule = client.get(RULES, headers=admin).json()[0]
        for name in ("name", "keyFields", "windowSeconds", "maxAlerts", "enabled"):
            assert_problem(
                client.patch(f"{RULES}/{rule['id']}", json={name: None}, headers=admin), 400
            )
        assert client.get(f"{RULES}/{rule['id']}", headers=admin).json() == rule

    def test_analyst_and_viewer_cannot_change_rules(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        rule = client.get(RULES, headers=tenant.headers(Role.VIEWER)).json()[0]
        for role in (Role.VIEWER, Role.ANALYST):
            headers = tenant.headers(role)
            assert_problem(
                client.patch(f"{RULES}/{rule['id']}", json={"maxAlerts": 1}, headers=headers),
                403,
                "auth.role_required",
            )
            assert_problem(client.delete(f"{RULES}/{rule['id']}", headers=headers), 403)
        assert client.get(f"{RULES}/{rule['id']}", headers=tenant.headers()).json() == rule


class TestAuth:
    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "",
            "Bearer",
            "Basic dXNlcjpw",
            "Bearer garbage",
            "bearer mst_0123456789_nope",
            "Token mst_0123456789_nope",
            "Bearer mst_zzzzzzzzzz_" + "x" * 32,
        ],
    )
    def test_missing_or_bad_credentials(
        self, client: httpx.Client, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path in (
            ("GET", "/api/v1/incidents"),
            ("POST", "/api/v1/alerts"),
            ("GET", TENANTS),
            ("GET", USERS),
            ("POST", KEYS),
            ("GET", RULES),
        ):
            resp = client.request(method, path, headers=headers, json={})
            assert_problem(resp, 401)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    def test_a_valid_key_with_a_wrong_secret(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        real = tenant.keys[Role.ANALYST]
        forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
        resp = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {forged}"})
        assert_problem(resp, 401, "auth.unauthenticated")

    def test_scheme_is_case_insensitive(self, client: httpx.Client, tenant: TenantKeys) -> None:
        key = tenant.keys[Role.VIEWER]
        resp = client.get("/api/v1/incidents", headers={"Authorization": f"bearer {key}"})
        assert resp.status_code == 200

    def test_global_key_needs_a_tenant(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        for method, path in (
            ("GET", "/api/v1/incidents"),
            ("POST", "/api/v1/alerts"),
            ("GET", RULES),
            ("GET", USERS),
        ):
            resp = client.request(method, path, json=alert(), headers=global_headers(global_key))
            assert_problem(resp, 400, "tenant.required", field="X-Muster-Tenant")
        for bogus in (str(uuid.uuid4()), "not-a-uuid"):
            resp = client.get("/api/v1/incidents", headers=global_headers(global_key, bogus))
            assert_problem(resp, 404)
        item = client.post(
            "/api/v1/alerts", json=alert(), headers=global_headers(global_key, tenant.id)
        )
        assert item.status_code == 200, item.text
        listed = client.get("/api/v1/alerts", headers=tenant.headers()).json()["items"]
        assert [a["id"] for a in listed] == [item.json()["items"][0]["alertId"]]

    def test_tenant_key_cannot_name_another_tenant(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        headers = {**tenant.headers(), "X-Muster-Tenant": str(other_tenant.id)}
        assert_problem(client.get("/api/v1/incidents", headers=headers), 404)
        assert_problem(client.post("/api/v1/alerts", json=alert(), headers=headers), 404)
        assert list_all(client, "/api/v1/alerts", other_tenant.headers()) == []
        same = {**tenant.headers(), "X-Muster-Tenant": str(tenant.id)}
        assert client.get("/api/v1/incidents", headers=same).status_code == 200

    def test_timeline_names_the_global_key(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        made = create_incident(client, tenant)
        resp = client.patch(
            f"/api/v1/incidents/{made['id']}",
            json={"severity": 1},
            headers=global_headers(global_key, tenant.id),
        )
        assert resp.status_code == 200
        assert patch_incident(client, tenant, made["id"], severity=2).status_code == 200
        events = client.get(
            f"/api/v1/incidents/{made['id']}/timeline", headers=tenant.headers()
        ).json()
        actors = [e["actor"] for e in events if e["action"] == "incident.updated"]
        assert len(actors) == 2 and actors[0] != actors[1]
