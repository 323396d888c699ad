"""What the isolation matrix knows about each route of the app, keyed by (method, path).

Every route the app serves (native API, each compatible API, the web console) is in exactly
one table, or the matrix fails, so a new route cannot escape it:

- `CASES`: routes that name a tenant's objects (in the path, the query or the body). Each
  `Case` says how to build a plausible, valid request from slot values (`Ids`: slot -> value),
  which slots hold which kind of object, and what a foreign or unknown id answers.
- `COLLECTIONS`: lists, metrics and exports without object ids; tenant B's answer (200, or
  a case's `expect["*"]`) must hold nothing of tenant A's (a case's slots name A's objects
  as filters; `own` is the caller's tenant).
- `OTHER`: every other route, with the reason it names no object of another tenant.

A path parameter's kind comes from `PARAM_KINDS` (objects) or `FIXED` (values that name no
tenant's object); a case's `slots` add body/query slots or override a path parameter's kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.tenancy.world import RESOURCE_GROUP, SUBSCRIPTION

Ids = Mapping[str, str]

# path parameter -> the kind of object it names (a key of World.ids)
PARAM_KINDS = {
    "incident_id": "incident",
    "incident_hash": "hash",
    "alert_id": "alert",
    "comment_id": "comment",
    "rule_id": "rule",
    "user_id": "user",
    "key_id": "key",
    "tenant_id": "tenant",
    "workspace_id": "tenant",
    "workspace": "tenant",
    "playbook_id": "playbook",
    "process_id": "process",
    "webhook_id": "webhook",
    "delivery_id": "delivery",
    "name": "relation",
}
# path parameters that name nothing of a tenant's: always sent as these values
FIXED = {
    "subscription_id": SUBSCRIPTION,
    "resource_group": RESOURCE_GROUP,
    "source": "Sentinel",
    "version": "1",
}


@dataclass(frozen=True)
class Case:
    """One way to call a route with object ids in its slots.

    `vary`: the slots set to a foreign (or unknown) value in turn, every other slot holding
    the caller's own object (default: every object slot, then all of them at once).
    `expect`: the answer when only that slot is foreign (default 404; a tenant slot answers
    the API's own refusal). `creates`: slots where an unknown value creates the object under
    the client's id (Sentinel's PUT), so only the foreign value is checked.
    """

    json: Callable[[Ids], Any] | None = None
    form: Callable[[Ids], dict[str, str]] | None = None
    query: Callable[[Ids], dict[str, str]] | None = None
    slots: Mapping[str, str] = field(default_factory=dict)
    vary: tuple[str, ...] | None = None
    expect: Mapping[str, int] = field(default_factory=dict)
    creates: tuple[str, ...] = ()


V1 = "/api/v1"
BETA = "/api/beta/partners"
V2 = "/api/v2"
WS = V2 + "/workspaces/{workspace_id}"
S = (
    "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
    "Microsoft.OperationalInsights/workspaces/{workspace}/providers/Microsoft.SecurityInsights"
)
SI = S + "/incidents/{incident_id}"
UI = "/ui"
UI_INC = UI + "/incidents/{incident_id}"

PLAIN = (Case(),)
END = {"id": "done", "kind": "end"}


def _json(body: Any) -> Case:
    return Case(json=lambda ids: body)


def _form(data: dict[str, str]) -> Case:
    return Case(form=lambda ids: data)


TENANT_QUERY = Case(query=lambda ids: {"tenantId": ids["tenant"]}, slots={"tenant": "tenant"})
SENTINEL_INCIDENT = {"properties": {"title": "isolation", "severity": "High", "status": "New"}}
COMMENT_WITH_ID = Case(
    json=lambda ids: {"content": "mine now", "commentId": ids["comment"]},
    slots={"comment": "comment"},
    vary=("comment",),
    creates=("comment",),
)

CASES: dict[tuple[str, str], tuple[Case, ...]] = {
    # --- native API -------------------------------------------------------------------------
    ("POST", V1 + "/incidents"): (
        Case(
            json=lambda ids: {"description": "steal", "alertIds": [ids["alert"]]},
            slots={"alert": "alert"},
        ),
    ),
    ("GET", V1 + "/audit"): (TENANT_QUERY,),
    ("GET", V1 + "/alerts/{alert_id}"): PLAIN,
    ("POST", V1 + "/alerts/{alert_id}/move"): (
        Case(json=lambda ids: {"incidentId": ids["target"]}, slots={"target": "incident2"}),
    ),
    ("DELETE", V1 + "/apikeys/{key_id}"): PLAIN,
    ("GET", V1 + "/grouping-rules/{rule_id}"): PLAIN,
    ("PATCH", V1 + "/grouping-rules/{rule_id}"): (_json({"maxAlerts": 7}),),
    ("DELETE", V1 + "/grouping-rules/{rule_id}"): PLAIN,
    ("GET", V1 + "/incidents/by-hash/{incident_hash}"): PLAIN,
    ("GET", V1 + "/incidents/{incident_id}"): PLAIN,
    ("PATCH", V1 + "/incidents/{incident_id}"): (
        _json({"severity": 1}),
        _json({"status": "RESOLVED", "resolution": "FALSE_POSITIVE"}),
        Case(
            json=lambda ids: {"assignee": ids["member"]},
            slots={"member": "email"},
            vary=("member",),
            expect={"member": 400},
        ),
    ),
    ("GET", V1 + "/incidents/{incident_id}/comments"): PLAIN,
    ("POST", V1 + "/incidents/{incident_id}/comments"): (_json({"body": "sneaky"}),),
    ("POST", V1 + "/incidents/{incident_id}/merge"): (
        Case(json=lambda ids: {"incidentIds": [ids["other"]]}, slots={"other": "incident2"}),
    ),
    ("POST", V1 + "/incidents/{incident_id}/soar/answer"): (_json({"answer": "yes"}),),
    ("POST", V1 + "/incidents/{incident_id}/soar/start"): (
        Case(
            json=lambda ids: {"playbook": ids["playbook"]},
            slots={"incident_id": "incident2", "playbook": "playbook_name"},
        ),
    ),
    ("GET", V1 + "/incidents/{incident_id}/timeline"): PLAIN,
    ("GET", V1 + "/playbooks/{playbook_id}"): PLAIN,
    ("PUT", V1 + "/playbooks/{playbook_id}"): (
        Case(json=lambda ids: {"name": "taken", "trigger": "manual", "steps": [END]}),
    ),
    ("DELETE", V1 + "/playbooks/{playbook_id}"): PLAIN,
    ("GET", V1 + "/playbooks/{playbook_id}/export"): PLAIN,
    ("GET", V1 + "/playbooks/{playbook_id}/versions"): PLAIN,
    ("GET", V1 + "/playbooks/{playbook_id}/versions/{version}"): PLAIN,
    ("GET", V1 + "/soar/processes/{process_id}"): PLAIN,
    ("POST", V1 + "/soar/processes/{process_id}/cancel"): PLAIN,
    ("POST", V1 + "/soar/processes/{process_id}/retry"): PLAIN,
    ("GET", V1 + "/tenants/{tenant_id}"): PLAIN,
    ("PATCH", V1 + "/tenants/{tenant_id}"): (_json({"name": "pwned"}),),
    ("DELETE", V1 + "/tenants/{tenant_id}"): PLAIN,
    ("GET", V1 + "/users/{user_id}"): PLAIN,
    ("PATCH", V1 + "/users/{user_id}"): (_json({"name": "Mallory"}),),
    ("DELETE", V1 + "/users/{user_id}"): PLAIN,
    ("GET", V1 + "/users/{user_id}/notifications"): PLAIN,
    ("PUT", V1 + "/users/{user_id}/notifications"): (_json({"emailOptOut": ["all"]}),),
    ("GET", V1 + "/webhooks/{webhook_id}"): PLAIN,
    ("PATCH", V1 + "/webhooks/{webhook_id}"): (_json({"name": "mine now"}),),
    ("DELETE", V1 + "/webhooks/{webhook_id}"): PLAIN,
    ("GET", V1 + "/webhooks/{webhook_id}/deliveries"): PLAIN,
    ("GET", V1 + "/webhooks/{webhook_id}/deliveries/{delivery_id}"): PLAIN,
    ("POST", V1 + "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): PLAIN,
    ("POST", V1 + "/webhooks/{webhook_id}/test"): PLAIN,
    # --- ContraForce beta -------------------------------------------------------------------
    ("POST", BETA + "/incidents"): (
        Case(json=lambda ids: {}, query=TENANT_QUERY.query, slots=TENANT_QUERY.slots),
    ),
    ("POST", BETA + "/incidents/all"): (
        Case(json=lambda ids: {"accountId": ids["tenant"]}, slots={"tenant": "tenant"}),
    ),
    ("GET", BETA + "/incidents/{incident_id}/details"): (TENANT_QUERY,),
    ("GET", BETA + "/incidents/{incident_id}/entities"): (TENANT_QUERY,),
    ("GET", BETA + "/incidents/{incident_id}/evidence"): (TENANT_QUERY,),
    # --- ContraForce v2 ---------------------------------------------------------------------
    ("POST", V2 + "/incidents/across-workspaces/bulk-update"): (
        Case(
            json=lambda ids: {
                "items": [{"id": ids["incident"], "workspace": ids["ws"], "status": "Active"}]
            },
            slots={"incident": "incident", "ws": "tenant"},
            expect={"incident": 200, "ws": 200, "*": 200},
        ),
    ),
    ("GET", WS + "/gamebooks/by-incident/{incident_id}"): PLAIN,
    ("GET", WS + "/incidents/{first}/{second}/evidence"): (
        Case(slots={"first": "source", "second": "incident"}),
    ),
    ("PUT", WS + "/incidents/{incident_id}/assign"): (_json({"email": None}),),
    ("PUT", WS + "/incidents/{incident_id}/assignee"): (_json({"email": None}),),
    ("GET", WS + "/incidents/{incident_id}/comments"): PLAIN,
    ("POST", WS + "/incidents/{incident_id}/comments"): (
        _json({"content": "sneaky"}),
        COMMENT_WITH_ID,
    ),
    ("GET", WS + "/incidents/{incident_id}/entities"): PLAIN,
    ("PUT", WS + "/incidents/{incident_id}/status"): (_json({"status": "Active"}),),
    ("GET", WS + "/incidents/{incident_id}/summary"): PLAIN,
    ("GET", WS + "/incidents/{source}/{incident_id}"): PLAIN,
    ("PUT", WS + "/incidents/{source}/{incident_id}/assignee"): (
        _json({"email": None}),
        Case(
            json=lambda ids: {"userId": ids["member"]},
            slots={"member": "user"},
            vary=("member",),
            expect={"member": 400},
        ),
    ),
    ("GET", WS + "/incidents/{source}/{incident_id}/comments"): PLAIN,
    ("POST", WS + "/incidents/{source}/{incident_id}/comments"): (
        _json({"content": "sneaky"}),
        COMMENT_WITH_ID,
    ),
    ("GET", WS + "/incidents/{source}/{incident_id}/last-gamebook"): PLAIN,
    ("PUT", WS + "/incidents/{source}/{incident_id}/status"): (_json({"status": "Active"}),),
    # --- Sentinel ---------------------------------------------------------------------------
    ("GET", S + "/incidents"): PLAIN,
    ("GET", SI): PLAIN,
    ("PUT", SI): (
        Case(json=lambda ids: SENTINEL_INCIDENT, creates=("incident_id",)),
        Case(
            json=lambda ids: {"properties": {"owner": {"objectId": ids["member"]}}},
            slots={"member": "user"},
            vary=("member",),
            expect={"member": 400},
        ),
    ),
    ("DELETE", SI): (Case(expect={"incident_id": 204}),),
    ("POST", SI + "/alerts"): PLAIN,
    ("POST", SI + "/bookmarks"): PLAIN,
    ("POST", SI + "/entities"): PLAIN,
    ("GET", SI + "/comments"): PLAIN,
    ("GET", SI + "/comments/{comment_id}"): PLAIN,
    ("PUT", SI + "/comments/{comment_id}"): (
        Case(json=lambda ids: {"properties": {"message": "sneaky"}}, creates=("comment_id",)),
    ),
    ("DELETE", SI + "/comments/{comment_id}"): (Case(expect={"comment_id": 204}),),
    ("GET", SI + "/relations"): PLAIN,
    ("GET", SI + "/relations/{name}"): PLAIN,
    ("PUT", SI + "/relations/{name}"): (
        Case(
            json=lambda ids: {"properties": {"relatedResourceId": "/subscriptions/s/x/y"}},
            vary=("workspace", "incident_id"),
        ),
    ),
    ("DELETE", SI + "/relations/{name}"): (Case(expect={"name": 204}),),
    # --- web console ------------------------------------------------------------------------
    ("GET", UI_INC): PLAIN,
    ("GET", UI_INC + "/alerts/{alert_id}/raw"): PLAIN,
    ("POST", UI_INC + "/alerts/{alert_id}/move"): (
        Case(form=lambda ids: {"incidentId": ids["target"]}, slots={"target": "incident2"}),
    ),
    ("POST", UI_INC + "/assign"): (
        _form({"assignee": ""}),
        Case(
            form=lambda ids: {"assignee": ids["member"]},
            slots={"member": "email"},
            vary=("member",),
            expect={"member": 400},
        ),
    ),
    ("POST", UI_INC + "/comment"): (_form({"body": "sneaky"}),),
    ("POST", UI_INC + "/exclude"): (_form({"excludeFromSLA": "on"}),),
    ("POST", UI_INC + "/merge"): (
        Case(form=lambda ids: {"incidentIds": ids["other"]}, slots={"other": "hash2"}),
    ),
    ("POST", UI_INC + "/resolve"): (_form({"resolution": "FALSE_POSITIVE"}),),
    ("POST", UI_INC + "/soar/answer"): (_form({"answer": "yes"}),),
    ("POST", UI_INC + "/soar/cancel"): (_form({}),),
    ("POST", UI_INC + "/soar/retry"): (_form({}),),
    ("POST", UI_INC + "/status"): (_form({"status": "UNDER_INVESTIGATION"}),),
    ("POST", UI_INC + "/tags"): (_form({"tags": "mine"}),),
    ("POST", UI + "/queue/bulk"): (
        Case(
            form=lambda ids: {"action": "assign", "assignee": "unassigned", "ids": ids["inc"]},
            slots={"inc": "incident"},
        ),
    ),
    ("POST", UI + "/tenant"): (
        Case(form=lambda ids: {"tenant": ids["tenant"]}, slots={"tenant": "tenant"}),
    ),
    ("POST", UI + "/admin/apikeys/{key_id}/revoke"): (_form({}),),
    ("POST", UI + "/admin/users/{user_id}/role"): (_form({"role": "viewer"}),),
    ("POST", UI + "/grouping/{rule_id}/enabled"): (_form({"enabled": "false"}),),
    ("POST", UI + "/grouping/{rule_id}/move"): (_form({"direction": "down"}),),
    ("GET", UI + "/playbooks/{playbook_id}"): PLAIN,
    ("POST", UI + "/playbooks/{playbook_id}"): (
        _form({"yaml": "name: taken\ntrigger: manual\nsteps:\n  - id: done\n    kind: end\n"}),
    ),
    ("GET", UI + "/webhooks/{webhook_id}"): PLAIN,
    ("POST", UI + "/webhooks/{webhook_id}/test"): (_form({}),),
    ("POST", UI + "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): (_form({}),),
}

COLLECTIONS: dict[tuple[str, str], tuple[Case, ...]] = {
    ("GET", V1 + "/actions"): PLAIN,
    ("GET", V1 + "/alerts"): (
        Case(),
        Case(query=lambda ids: {"incidentId": ids["inc"]}, slots={"inc": "incident"}),
        Case(query=lambda ids: {"hostname": ids["host"]}, slots={"host": "host"}),
    ),
    ("GET", V1 + "/apikeys"): PLAIN,
    ("GET", V1 + "/audit"): (
        Case(),
        Case(query=lambda ids: {"subjectId": ids["user"]}, slots={"user": "user"}),
        Case(query=lambda ids: {"subjectId": ids["hook"]}, slots={"hook": "webhook"}),
    ),
    ("GET", V1 + "/grouping-rules"): PLAIN,
    ("GET", V1 + "/incidents"): (
        Case(),
        Case(query=lambda ids: {"assignee": ids["member"]}, slots={"member": "email"}),
        Case(query=lambda ids: {"q": ids["hash"]}, slots={"hash": "hash"}),
        Case(query=lambda ids: {"q": ids["tag"]}, slots={"tag": "tag"}),
    ),
    ("GET", V1 + "/metrics/incidents"): (
        Case(query=lambda ids: {"groupBy": "tenant,source,assignee"}),
        Case(query=lambda ids: {"groupBy": "tenant,source", "format": "csv"}),
    ),
    ("GET", V1 + "/playbooks"): PLAIN,
    ("GET", V1 + "/sla/policy"): PLAIN,
    ("GET", V1 + "/soar/processes"): (
        Case(),
        Case(query=lambda ids: {"incidentId": ids["inc"]}, slots={"inc": "incident"}),
    ),
    ("GET", V1 + "/tenants"): PLAIN,
    ("GET", V1 + "/users"): PLAIN,
    ("GET", V1 + "/webhooks"): PLAIN,
    ("GET", "/metrics"): PLAIN,
    ("POST", BETA + "/incidents"): (
        Case(json=lambda ids: {"take": 1000}, query=lambda ids: {"tenantId": ids["own"]}),
    ),
    ("POST", BETA + "/incidents/all"): (_json({"take": 1000}),),
    ("POST", V2 + "/incidents/across-workspaces"): (_json({"take": 1000, "isFirstCall": True}),),
    ("GET", S + "/incidents"): (Case(query=lambda ids: {"$top": "1000"}),),
    ("GET", UI + "/queue"): (
        Case(),
        Case(query=lambda ids: {"q": ids["hash"]}, slots={"hash": "hash"}),
    ),
    ("GET", UI + "/queue/rows"): PLAIN,
    ("GET", UI + "/alerts"): PLAIN,
    ("GET", UI + "/grouping"): PLAIN,
    ("GET", UI + "/playbooks"): PLAIN,
    ("GET", UI + "/playbooks/new"): PLAIN,
    ("GET", UI + "/sla"): PLAIN,
    ("GET", UI + "/webhooks"): PLAIN,
    ("GET", UI + "/admin/users"): PLAIN,
    ("GET", UI + "/admin/apikeys"): PLAIN,
    ("GET", UI + "/admin/tenants"): (Case(expect={"*": 403}),),  # global admins only
}

# a valid body for each native write that names no object: sent with another tenant's id in
# X-Muster-Tenant, it must answer 404 and write nothing
HEADER_WRITES: dict[tuple[str, str], Any] = {
    ("POST", V1 + "/alerts"): {"ruleName": "steal", "source": "tests", "severity": 2},
    ("POST", V1 + "/apikeys"): {"name": "steal", "role": "tenant_admin"},
    ("POST", V1 + "/grouping-rules"): {
        "name": "steal",
        "keyFields": ["hostname"],
        "windowSeconds": 3600,
    },
    ("POST", V1 + "/playbooks"): {"name": "steal", "trigger": "manual", "steps": [END]},
    ("PUT", V1 + "/sla/policy"): {"atRiskFraction": 0.5},
    ("DELETE", V1 + "/sla/policy"): None,
    ("POST", V1 + "/users"): {"email": "steal@example.test", "name": "Mallory"},
    ("POST", V1 + "/webhooks"): {
        "name": "steal",
        "url": "http://127.0.0.1:9/steal",
        "events": ["*"],
    },
}

_DOCS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
OTHER: dict[tuple[str, str], str] = {
    **{
        ("GET", root + doc): "the API's own documentation"
        for root in ("", BETA, V2, "/subscriptions")
        for doc in _DOCS
    },
    ("GET", "/"): "redirects to the console",
    ("GET", "/health"): "liveness, no data",
    ("GET", "/health/ready"): "readiness: pings the database, no data",
    ("GET", BETA + "/"): "the welcome message",
    ("POST", V1 + "/alerts"): "ingestion: creates the caller's own alerts",
    ("POST", V1 + "/apikeys"): "mints a key of the caller's tenant",
    ("POST", V1 + "/grouping-rules"): "creates a rule of the caller's tenant",
    ("POST", V1 + "/playbooks"): "creates a playbook of the caller's tenant",
    ("PUT", V1 + "/sla/policy"): "sets the caller's own policy",
    ("DELETE", V1 + "/sla/policy"): "resets the caller's own policy",
    ("POST", V1 + "/tenants"): "global admins only",
    ("POST", V1 + "/users"): "adds a member by e-mail: test_a_shared_login_stays_its_own",
    ("POST", V1 + "/webhooks"): "subscribes the caller's own tenant",
    ("GET", UI + "/"): "redirects to the queue or the login page",
    ("GET", UI + "/login"): "the login form",
    ("POST", UI + "/login"): "logs in (tests/web)",
    ("POST", UI + "/logout"): "logs out",
    ("POST", UI + "/playbooks/new"): "creates a playbook of the acting tenant",
    ("POST", UI + "/webhooks"): "subscribes the acting tenant",
    ("POST", UI + "/admin/tenants"): "global admins only",
    ("POST", UI + "/admin/users"): "adds a member by e-mail: test_a_shared_login_stays_its_own",
    ("POST", UI + "/admin/apikeys"): "mints a key of the acting tenant",
}
