"""Every administration action writes one audit event, whichever shell made it (native API,
console, CLI), with the right actor and no secret; `GET /api/v1/audit` reads the log.

The ContraForce and Sentinel APIs have no administration routes (incidents only), so there is
nothing of theirs to audit here.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from muster.auth.keys import hash_key, prefix_of
from muster.cli.main import app as cli
from muster.config import Settings
from muster.db.engine import Database
from muster.models.enums import Role
from tests.api.apicalls import global_headers
from tests.factories import TenantKeys
from tests.web.conftest import add_member, login, page_token

AUDIT = "/api/v1/audit"
PLAYBOOK = {"name": "", "trigger": "manual", "steps": [{"id": "only", "kind": "end"}]}
STEPS_YAML = "steps:\n  - id: only\n    kind: end\n"
SLA = {"atRiskFraction": 0.5, "targets": {"HIGH": {"response": "1h", "resolution": "8h"}}}


def read_log(client: httpx.Client, global_key: str, tenant_id: Any) -> list[dict[str, Any]]:
    """Every event of a tenant's log (None: the global log), newest first, page by page."""
    params: dict[str, str] = {"limit": "200"}
    if tenant_id is not None:
        params["tenantId"] = str(tenant_id)
    out: list[dict[str, Any]] = []
    while True:
        resp = client.get(AUDIT, params=params, headers=global_headers(global_key))
        assert resp.status_code == 200, resp.text
        page = resp.json()
        out.extend(page["items"])
        if not page["nextCursor"] or len(out) >= 400:
            return out
        params["cursor"] = page["nextCursor"]


class Log:
    """Runs administration calls as one actor and checks that each wrote exactly one event,
    by that actor, to the right log; remembers the secrets the calls handled."""

    def __init__(self, client: httpx.Client, global_key: str) -> None:
        self.client, self.global_key = client, global_key
        self.actor = ""
        self.headers: dict[str, str] = {}
        self.secrets: list[str] = []
        self.logs: set[Any] = set()

    def one(self, log: Any, action: str, call: Callable[[], Any], subject: Any = None) -> Any:
        """Run `call`: exactly one new event `action` by `self.actor` in `log` (a tenant id;
        None: the global log), about `subject` when given; what `call` returned."""
        before = {e["id"] for e in read_log(self.client, self.global_key, log)}
        result = call()
        new = [e for e in read_log(self.client, self.global_key, log) if e["id"] not in before]
        assert [(e["action"], e["actor"]) for e in new] == [(action, self.actor)], new
        if subject is not None:
            assert new[0]["subjectId"] == str(subject), new[0]
        self.logs.add(log)
        return result

    def http(
        self,
        log: Any,
        action: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        subject: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """`one` for an API call with `self.headers`; the answer's JSON."""

        def call() -> Any:
            resp = self.client.request(method, path, json=body, headers=headers or self.headers)
            return ok(resp, status)

        return self.one(log, action, call, subject)

    def assert_no_secrets(self) -> None:
        """No secret this test saw (nor its hash) appears in any event of the logs it wrote."""
        assert self.secrets
        forbidden = [*self.secrets, *(hash_key(s) for s in self.secrets), "$argon2"]
        for tenant_id in self.logs:
            text = json.dumps(read_log(self.client, self.global_key, tenant_id))
            for secret in forbidden:
                assert secret not in text, f"a secret is in the audit log of {tenant_id}"


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def key_actor(client: httpx.Client, headers: dict[str, str], plaintext: str) -> str:
    """`apikey:<id>` of a key, found by its prefix in the list its holder may read."""
    keys = ok(client.get("/api/v1/apikeys", headers=headers))
    return "apikey:" + str(next(k["id"] for k in keys if k["prefix"] == prefix_of(plaintext)))


def user_actor(client: httpx.Client, tenant: TenantKeys, email: str) -> str:
    """`user:<id>` of a member."""
    users = ok(client.get("/api/v1/users", headers=tenant.headers(Role.TENANT_ADMIN)))
    return "user:" + str(next(u["id"] for u in users if u["email"] == email))


@pytest.fixture()
def log(client: httpx.Client, global_key: str) -> Iterator[Log]:
    recorder = Log(client, global_key)
    yield recorder
    recorder.assert_no_secrets()


def test_native_api_tenant_admin(client: httpx.Client, tenant: TenantKeys, log: Log) -> None:
    log.headers = tenant.headers(Role.TENANT_ADMIN)
    log.actor = key_actor(client, log.headers, tenant.keys[Role.TENANT_ADMIN])
    t = tenant.id
    pw, new_pw = f"pw-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    log.secrets += [pw, new_pw]
    member = {"email": f"m-{uuid.uuid4().hex[:8]}@example.test", "name": "M", "password": pw}
    uid = log.http(t, "user.added", "POST", "/api/v1/users", member, status=201)["id"]
    user = f"/api/v1/users/{uid}"
    change = {"role": "viewer", "password": new_pw}
    log.http(t, "user.updated", "PATCH", user, change, subject=uid)
    log.http(t, "user.updated", "PUT", f"{user}/notifications", {"emailOptOut": ["sla"]})
    log.http(t, "user.removed", "DELETE", user, status=204, subject=uid)

    key = log.http(t, "apikey.created", "POST", "/api/v1/apikeys", {"name": "k"}, status=201)
    log.secrets += [key["key"], key["clientSecret"]]
    log.http(t, "apikey.revoked", "DELETE", f"/api/v1/apikeys/{key['id']}", subject=key["id"])

    rule = {"name": "r", "keyFields": ["hostname"], "windowSeconds": 3600}
    rid = log.http(t, "grouping_rule.created", "POST", "/api/v1/grouping-rules", rule, status=201)[
        "id"
    ]
    rule_path = f"/api/v1/grouping-rules/{rid}"
    log.http(t, "grouping_rule.updated", "PATCH", rule_path, {"enabled": False}, subject=rid)
    log.http(t, "grouping_rule.deleted", "DELETE", rule_path, status=204, subject=rid)

    log.http(t, "sla_policy.updated", "PUT", "/api/v1/sla/policy", SLA, subject=t)
    log.http(t, "sla_policy.reset", "DELETE", "/api/v1/sla/policy", subject=t)

    playbook = {**PLAYBOOK, "name": f"p-{uuid.uuid4().hex[:6]}"}
    pid = log.http(t, "playbook.created", "POST", "/api/v1/playbooks", playbook, status=201)["id"]
    playbook["description"] = "changed"
    log.http(t, "playbook.updated", "PUT", f"/api/v1/playbooks/{pid}", playbook, subject=pid)
    log.http(t, "playbook.deleted", "DELETE", f"/api/v1/playbooks/{pid}", status=204)

    hook = {"name": "h", "url": "http://127.0.0.1:9/hook", "events": ["incident.created"]}
    made = log.http(t, "webhook.created", "POST", "/api/v1/webhooks", hook, status=201)
    hook_path = f"/api/v1/webhooks/{made['id']}"
    rotated = log.http(t, "webhook.updated", "PATCH", hook_path, {"rotateSecret": True})
    log.secrets += [made["secret"], rotated["secret"]]
    log.http(t, "webhook.deleted", "DELETE", hook_path, status=204, subject=made["id"])

    settings = {"settings": {"emailIntakeSenders": ["corp.example"]}}
    log.http(t, "tenant.updated", "PATCH", f"/api/v1/tenants/{t}", settings, subject=t)


def test_native_api_global_admin(client: httpx.Client, global_key: str, log: Log) -> None:
    log.headers = global_headers(global_key)
    log.actor = key_actor(client, log.headers, global_key)
    made = ok(
        client.post("/api/v1/tenants", json={"name": f"a-{uuid.uuid4().hex}"}, headers=log.headers),
        201,
    )
    t = made["id"]
    created = read_log(client, global_key, t)  # the first event of a new log
    assert [(e["action"], e["actor"], e["subjectId"]) for e in created] == [
        ("tenant.created", log.actor, t)
    ]
    tenant_path = f"/api/v1/tenants/{t}"
    suspend = {"flags": {"suspended": "unpaid invoice"}}
    log.http(t, "tenant.suspended", "PATCH", tenant_path, suspend, subject=t)
    log.http(t, "tenant.resumed", "PATCH", tenant_path, {"flags": {}}, subject=t)
    in_tenant = global_headers(global_key, t)
    minted = log.http(
        t, "apikey.created", "POST", "/api/v1/apikeys", {"name": "t"}, status=201, headers=in_tenant
    )
    log.secrets.append(minted["key"])

    mint = {"name": "g", "role": "global_admin"}
    key = log.http(None, "apikey.created", "POST", "/api/v1/apikeys", mint, status=201)
    log.secrets += [key["key"], key["clientSecret"]]
    log.http(None, "apikey.revoked", "DELETE", f"/api/v1/apikeys/{key['id']}", subject=key["id"])
    log.http(None, "tenant.deleted", "DELETE", tenant_path, status=204, subject=t)
    log.logs.discard(t)  # gone with its tenant


def test_console(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys, log: Log
) -> None:
    email, password = add_member(db, tenant.id, Role.TENANT_ADMIN)
    log.secrets.append(password)
    log.actor = user_actor(client, tenant, email)
    t, admin = tenant.id, tenant.headers(Role.TENANT_ADMIN)
    with httpx.Client(base_url=base_url, timeout=30) as web:
        assert login(web, email, password).status_code == 303

        def post(path: str, **data: str) -> Callable[[], httpx.Response]:
            def call() -> httpx.Response:
                resp = web.post(path, data={"csrf_token": page_token(web), **data})
                assert resp.status_code in (200, 303), resp.text
                return resp

            return call

        member, member_pw = f"c-{uuid.uuid4().hex[:8]}@example.test", f"pw-{uuid.uuid4().hex}"
        log.secrets.append(member_pw)
        add = post("/ui/admin/users", email=member, name="C", role="viewer", password=member_pw)
        log.one(t, "user.added", add)
        mid = user_actor(client, tenant, member).removeprefix("user:")
        log.one(t, "user.updated", post(f"/ui/admin/users/{mid}/role", role="analyst"), mid)
        page = log.one(t, "apikey.created", post("/ui/admin/apikeys", name="c", role="viewer"))
        plaintext = page.text.split('<code id="minted-plaintext">', 1)[1].split("<", 1)[0]
        log.secrets.append(plaintext)
        kid = key_actor(client, admin, plaintext).removeprefix("apikey:")
        log.one(t, "apikey.revoked", post(f"/ui/admin/apikeys/{kid}/revoke"), kid)
        rule = ok(client.get("/api/v1/grouping-rules", headers=admin))[0]["id"]
        log.one(t, "grouping_rule.updated", post(f"/ui/grouping/{rule}/enabled", enabled="false"))
        hook = post("/ui/webhooks", name="w", url="http://127.0.0.1:9/x", events="incident.created")
        log.one(t, "webhook.created", hook)
        yaml = f"name: c-{uuid.uuid4().hex[:6]}\ntrigger: manual\n" + STEPS_YAML
        log.one(t, "playbook.created", post("/ui/playbooks/new", yaml=yaml))


def test_console_global_admin_creates_a_tenant(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys, global_key: str
) -> None:
    email, password = add_member(db, tenant.id, Role.GLOBAL_ADMIN)
    me = user_actor(client, tenant, email)
    name = f"console-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=base_url, timeout=30) as web:
        assert login(web, email, password).status_code == 303
        token = page_token(web, "/ui/admin/tenants")
        resp = web.post("/ui/admin/tenants", data={"csrf_token": token, "name": name})
        assert resp.status_code == 303
    tenants = ok(client.get("/api/v1/tenants", headers=global_headers(global_key)))
    made = next(t for t in tenants if t["name"] == name)
    events = read_log(client, global_key, made["id"])
    assert [(e["action"], e["actor"]) for e in events] == [("tenant.created", me)]


def test_cli(settings: Settings, client: httpx.Client, global_key: str, log: Log) -> None:
    runner = CliRunner()
    env = {"MUSTER_DATABASE_URL": settings.database_url}
    log.actor = f"cli:{getpass.getuser()}"

    def run(*args: str) -> Callable[[], Any]:
        def call() -> Any:
            result = runner.invoke(cli, [*args, "--json"], env=env)
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        return call

    t = run("tenant", "create", f"cli-audit-{uuid.uuid4().hex[:8]}")()["id"]
    created = [(e["action"], e["actor"]) for e in read_log(client, global_key, t)]
    assert created == [("tenant.created", log.actor)]
    log.one(t, "tenant.suspended", run("tenant", "suspend", t, "audit test"), t)
    log.one(t, "tenant.resumed", run("tenant", "resume", t), t)
    email, pw = f"cli-{uuid.uuid4().hex[:8]}@example.test", f"pw-{uuid.uuid4().hex}"
    log.secrets.append(pw)
    log.one(t, "user.added", run("user", "create", email, "Cli", "--tenant", t, "--password", pw))
    key = log.one(t, "apikey.created", run("apikey", "create", "--tenant", t))
    minted = log.one(None, "apikey.created", run("apikey", "create", "--global"))
    log.secrets += [key["key"], minted["key"], minted["clientSecret"]]


class TestReadingTheLog:
    def test_a_tenant_admin_reads_its_own_and_only_its_own(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        h = tenant.headers(Role.TENANT_ADMIN)
        for n in range(3):
            rule = {"name": f"r{n}", "keyFields": ["hostname"], "windowSeconds": 600}
            ok(client.post("/api/v1/grouping-rules", json=rule, headers=h), 201)
        first = ok(client.get(AUDIT, params={"limit": 2}, headers=h))
        assert len(first["items"]) == 2 and first["nextCursor"]
        rest = ok(client.get(AUDIT, params={"limit": 2, "cursor": first["nextCursor"]}, headers=h))
        names = [e["changes"]["name"] for e in first["items"] + rest["items"]]
        assert names[:3] == ["r2", "r1", "r0"]  # newest first, no gap or repeat across pages
        mine = ok(client.get(AUDIT, params={"tenantId": str(tenant.id)}, headers=h))
        assert mine["items"][0] == first["items"][0]
        theirs = client.get(AUDIT, params={"tenantId": str(other_tenant.id)}, headers=h)
        assert theirs.status_code == 404
        assert theirs.headers["content-type"].startswith("application/problem+json")
        filtered = ok(
            client.get(AUDIT, params={"action": "grouping_rule.created", "limit": 500}, headers=h)
        )
        assert {e["action"] for e in filtered["items"]} == {"grouping_rule.created"}
        assert all(e["subjectType"] != "incident" for e in mine["items"])

    def test_incident_changes_stay_on_the_timeline(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = ok(
            client.post("/api/v1/incidents", json={"description": "x"}, headers=tenant.headers()),
            201,
        )
        log = ok(
            client.get(AUDIT, params={"limit": 500}, headers=tenant.headers(Role.TENANT_ADMIN))
        )
        assert made["id"] not in {e["subjectId"] for e in log["items"]}

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    def test_below_tenant_admin_is_refused(
        self, client: httpx.Client, tenant: TenantKeys, role: Role
    ) -> None:
        resp = client.get(AUDIT, headers=tenant.headers(role))
        assert resp.status_code == 403, resp.text

    def test_bad_parameters_are_400(self, client: httpx.Client, tenant: TenantKeys) -> None:
        h = tenant.headers(Role.TENANT_ADMIN)
        for params in ({"subjectType": "incident"}, {"cursor": "not-a-cursor"}, {"limit": "0"}):
            resp = client.get(AUDIT, params=params, headers=h)
            assert resp.status_code == 400, (params, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")

    def test_a_global_admin_reads_any_tenant_and_the_global_log(
        self, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        g = global_headers(global_key)
        tenant_log = ok(client.get(AUDIT, params={"tenantId": str(tenant.id)}, headers=g))
        assert tenant_log["items"][-1]["action"] == "tenant.created"
        header_log = ok(client.get(AUDIT, headers=global_headers(global_key, tenant.id)))
        assert header_log == tenant_log
        missing = client.get(AUDIT, params={"tenantId": str(uuid.uuid4())}, headers=g)
        assert missing.status_code == 404
        global_log = ok(client.get(AUDIT, headers=g))
        assert all(
            e["subjectType"] in ("tenant", "apikey", "user", "address") for e in global_log["items"]
        )

    def test_the_audit_route_is_documented(self, client: httpx.Client) -> None:
        spec = ok(client.get("/openapi.json"))
        operation = spec["paths"]["/api/v1/audit"]["get"]
        params = {p["name"] for p in operation["parameters"]}
        assert {"tenantId", "action", "subjectType", "subjectId", "limit", "cursor"} <= params
        assert "200" in operation["responses"]
