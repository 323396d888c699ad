"""A tenant's world for the isolation tests: one object of every kind a route can name, made
through the tenant's own APIs, and what the tenant sees of them.

`build_world` gives a tenant an incident with an alert, a comment, a Sentinel relation and a
playbook run waiting on a question; a second incident; a playbook, a grouping rule, a member,
an API key, a webhook (subscribed to every event, at a loopback receiver) with a delivery, and
its own SLA policy. `World.ids` names each object by kind; `World.secrets` is every string
that identifies the tenant's data (ids, hashes, names, titles, e-mail addresses), so another
tenant's answers can be searched for it. `snapshot` reads everything back as the owner sees it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.api.apicalls import wait_for
from tests.api.webhook_receiver import Receiver
from tests.factories import TenantKeys, alert

from muster.models.enums import Role

SENTINEL = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights"  # noqa: E501
SUBSCRIPTION, RESOURCE_GROUP, API_VERSION = "sub-isolation", "rg-isolation", "2021-10-01"


# every kind of object a world has (the keys of World.ids)
KINDS = frozenset(
    {
        "tenant",
        "tag",
        "host",
        "incident",
        "incident2",
        "hash",
        "hash2",
        "alert",
        "alert2",
        "comment",
        "relation",
        "rule",
        "user",
        "email",
        "key",
        "playbook",
        "playbook_name",
        "process",
        "webhook",
        "delivery",
    }
)


@dataclass
class World:
    """One tenant's objects by kind (`ids`), its secrets and where its webhook delivers."""

    tenant: TenantKeys
    ids: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    hook_path: str = ""
    sla_response: str = ""
    playbook_body: dict[str, Any] = field(default_factory=dict)

    def admin(self) -> dict[str, str]:
        """The tenant admin's API key headers."""
        return self.tenant.headers(Role.TENANT_ADMIN)

    def sentinel(self, path: str) -> str:
        """A path under the tenant's own Sentinel workspace."""
        prefix = SENTINEL.format(sub=SUBSCRIPTION, rg=RESOURCE_GROUP, ws=self.tenant.id)
        return prefix + path


def question_playbook(name: str) -> dict[str, Any]:
    """A manual playbook whose run asks the analysts a question and waits an hour."""
    return {
        "name": name,
        "description": f"isolation playbook {name}",
        "trigger": "manual",
        "weight": 1,
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": f"Contain {name}?",
                "options": ["yes", "no"],
                "answerMemory": "decision",
                "timeout": "1h",
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    return resp.json() if resp.content else None


def _incident(client: httpx.Client, world: World, tag: str, n: int) -> tuple[str, str]:
    """Ingest an alert that opens its own incident; (incident id, alert id)."""
    body = alert(
        ruleName=f"rule {tag}-{n}",
        hostname=f"host-{tag}-{n}.corp.example",
        username=f"user-{tag}-{n}@corp.example",
        description=f"alert {tag}-{n}",
    )
    resp = _ok(client.post("/api/v1/alerts", json=body, headers=world.tenant.headers()))
    item = resp["items"][0]
    return str(item["incidentId"]), str(item["alertId"])


def _objects(client: httpx.Client, world: World, receiver: Receiver, tag: str, index: int) -> None:
    """Create the tenant's objects (webhook first, so every later event is delivered)."""
    ids, admin = world.ids, world.admin()
    world.hook_path = receiver.path()
    hook = {"name": f"hook {tag}", "url": receiver.url(world.hook_path), "events": ["*"]}
    ids["webhook"] = _ok(client.post("/api/v1/webhooks", json=hook, headers=admin), 201)["id"]
    ids["incident"], ids["alert"] = _incident(client, world, tag, 1)
    ids["incident2"], ids["alert2"] = _incident(client, world, tag, 2)
    note = {"body": f"comment {tag}"}
    path = f"/api/v1/incidents/{ids['incident']}/comments"
    ids["comment"] = _ok(client.post(path, json=note, headers=world.tenant.headers()), 201)["id"]
    ids["relation"] = f"rel-{tag}"
    relation = {"properties": {"relatedResourceId": f"/subscriptions/s/bookmarks/bm-{tag}"}}
    resp = client.put(
        world.sentinel(f"/incidents/{ids['incident']}/relations/{ids['relation']}"),
        params={"api-version": API_VERSION},
        json=relation,
        headers=world.tenant.headers(),
    )
    _ok(resp, 201)
    world.playbook_body = question_playbook(f"pb-{tag}")
    made = _ok(client.post("/api/v1/playbooks", json=world.playbook_body, headers=admin), 201)
    ids["playbook"], ids["playbook_name"] = made["id"], made["name"]
    start = {"playbook": ids["playbook_name"]}
    path = f"/api/v1/incidents/{ids['incident']}/soar/start"
    ids["process"] = _ok(client.post(path, json=start, headers=world.tenant.headers()), 202)["id"]
    path = f"/api/v1/webhooks/{ids['webhook']}/test"
    ids["delivery"] = _ok(client.post(path, headers=admin), 202)["id"]
    ids["rule"] = _ok(client.get("/api/v1/grouping-rules", headers=admin))[0]["id"]
    (member,) = _ok(client.get("/api/v1/users", headers=admin))
    ids["user"], ids["email"] = member["id"], member["email"]
    prefix = world.tenant.keys[Role.VIEWER].split("_")[1]
    keys = _ok(client.get("/api/v1/apikeys", headers=admin))
    ids["key"] = next(k["id"] for k in keys if k["prefix"] == prefix)
    world.sla_response = f"{600 + index}m"  # the tenant's own, recognisable targets
    policy = {"targets": {"HIGH": {"response": world.sla_response, "resolution": "2d"}}}
    _ok(client.put("/api/v1/sla/policy", json=policy, headers=admin))


def _settle(client: httpx.Client, world: World) -> None:
    """Wait until the run waits on its question and no delivery is pending."""
    ids, headers = world.ids, world.tenant.headers()
    wait_for(
        lambda: _ok(client.get(f"/api/v1/incidents/{ids['incident']}", headers=headers)),
        lambda i: i["soarStatus"] == "WAITING_INPUT",
    )
    path = f"/api/v1/webhooks/{ids['webhook']}/deliveries"
    wait_for(
        lambda: _ok(client.get(path, params={"limit": 100}, headers=headers)),
        lambda page: all(d["state"] != "pending" for d in page["items"]),
    )


def build_world(client: httpx.Client, tenant: TenantKeys, receiver: Receiver, index: int) -> World:
    """Every kind of object for `tenant`, settled, with its secrets collected; `index` tells
    the tenants' SLA policies apart."""
    world = World(tenant)
    tag = uuid.uuid4().hex[:10]
    world.ids["tenant"], world.ids["tag"] = str(tenant.id), tag
    world.ids["host"] = f"host-{tag}-1.corp.example"
    _objects(client, world, receiver, tag, index)
    _settle(client, world)
    for kind in ("incident", "incident2"):
        found = _ok(client.get(f"/api/v1/incidents/{world.ids[kind]}", headers=world.admin()))
        world.ids["hash" if kind == "incident" else "hash2"] = found["incidentHash"]
    assert world.ids.keys() == KINDS
    world.secrets = {tenant.name, tag, *world.ids.values()}
    return world


def snapshot(client: httpx.Client, world: World) -> dict[str, Any]:
    """Everything of the world as its owner reads it (fields that move by themselves, such as
    a key's last use, left out)."""
    ids, admin = world.ids, world.admin()
    reads = {
        "incident": f"/api/v1/incidents/{ids['incident']}",
        "incident2": f"/api/v1/incidents/{ids['incident2']}",
        "alert": f"/api/v1/alerts/{ids['alert']}",
        "alert2": f"/api/v1/alerts/{ids['alert2']}",
        "comments": f"/api/v1/incidents/{ids['incident']}/comments",
        "comments2": f"/api/v1/incidents/{ids['incident2']}/comments",
        "timeline": f"/api/v1/incidents/{ids['incident']}/timeline",
        "timeline2": f"/api/v1/incidents/{ids['incident2']}/timeline",
        "rule": f"/api/v1/grouping-rules/{ids['rule']}",
        "rules": "/api/v1/grouping-rules",
        "user": f"/api/v1/users/{ids['user']}",
        "notifications": f"/api/v1/users/{ids['user']}/notifications",
        "tenant": f"/api/v1/tenants/{ids['tenant']}",
        "playbook": f"/api/v1/playbooks/{ids['playbook']}",
        "versions": f"/api/v1/playbooks/{ids['playbook']}/versions",
        "process": f"/api/v1/soar/processes/{ids['process']}",
        "webhook": f"/api/v1/webhooks/{ids['webhook']}",
        "deliveries": f"/api/v1/webhooks/{ids['webhook']}/deliveries",
        "sla": "/api/v1/sla/policy",
    }
    out: dict[str, Any] = {
        name: _ok(client.get(path, headers=admin)) for name, path in reads.items()
    }
    keys = _ok(client.get("/api/v1/apikeys", headers=admin))
    out["keys"] = [{k: v for k, v in key.items() if k != "lastUsedAt"} for key in keys]
    relations = client.get(
        world.sentinel(f"/incidents/{ids['incident']}/relations"),
        params={"api-version": API_VERSION},
        headers=admin,
    )
    out["relations"] = _ok(relations)
    return out
