"""Cross-workspace v2 routes: the merged list with its page tokens and filters, and the bulk
update with its accepted and forbidden lists."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from muster.models.enums import Role
from tests.compat.contraforce.conftest import MakeV2, incident_id, make_incidents, native
from tests.compat.contraforce.test_v2 import data, problem
from tests.factories import TenantKeys


def test_across_workspaces_pages_over_every_workspace(
    v2: MakeV2,
    client: httpx.Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    global_key: str,
) -> None:
    tag = uuid.uuid4().hex[:10]
    made = make_incidents(client, tenant, 3, description=f"across {tag}")
    made += make_incidents(client, other_tenant, 2, description=f"across {tag}")
    cf = v2(global_key)
    seen: list[dict[str, Any]] = []
    body: dict[str, Any] = {"query": tag, "take": 2, "isFirstCall": True}
    for _ in range(10):
        resp = cf.across(**body)
        page = data(resp)
        seen.extend(page["incidents"])
        assert resp.json()["pagination"]["hasMore"] is page["hasMore"]
        if not page["hasMore"]:
            assert page["workspacePageTokens"] == []
            break
        body = {**body, "isFirstCall": False, "workspacePageTokens": page["workspacePageTokens"]}
    ids = [i["id"] for i in seen]
    assert sorted(ids) == sorted(i["incidentId"] for i in made) and len(ids) == len(set(ids))
    workspaces = {i["workspaceId"] for i in seen}
    assert workspaces == {str(tenant.id), str(other_tenant.id)}
    created = [i["creationTime"] for i in seen]
    assert created == sorted(created, reverse=True)
    assert all(i["severity"] == "Medium" and i["status"] == "New" for i in seen)

    own = data(v2(tenant.keys[Role.VIEWER]).across(query=tag, take=100))
    assert {i["workspaceId"] for i in own["incidents"]} == {str(tenant.id)}
    assert len(own["incidents"]) == 3


def test_across_workspaces_filters(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    tag = uuid.uuid4().hex[:10]
    high = incident_id(client, tenant, severity=4, description=f"f {tag}")
    low = incident_id(client, tenant, severity=2, description=f"f {tag}")
    ws = str(tenant.id)
    analyst = v2(tenant.keys[Role.ANALYST])
    assert (
        analyst.sub("PUT", ws, low, "assignee", json={"email": tenant.member_email}).status_code
        == 204
    )
    cf = v2(tenant.keys[Role.VIEWER])

    def ids(**body: Any) -> set[str]:
        return {i["id"] for i in data(cf.across(query=tag, **body))["incidents"]}

    assert ids() == {high, low}
    assert ids(severities=["High"]) == {high}
    assert ids(statuses=["Active", "Closed"]) == set()
    assert ids(assigneeEmails=[tenant.member_email]) == {low}
    assert ids(assigneeEmails=[tenant.member_email], includeUnassigned=True) == {high, low}
    assert ids(assigneeIds=[str(uuid.uuid4())]) == set()
    assert ids(sources=["Sentinel"]) == {high, low} and ids(sources=["QRadar"]) == set()
    assert ids(timeFilterSelection={"type": "ThreeHours"}) == {high, low}
    old = {
        "type": "Custom",
        "customStartUtc": "2020-01-01T00:00:00Z",
        "customEndUtc": "2020-01-02T00:00:00Z",
    }
    assert ids(timeFilterSelection=old) == set()
    problem(cf.across(severities=["Severe"]), 400, "VALIDATION_ERROR", "severities")
    problem(
        cf.across(timeFilterSelection={"type": "Weekly"}),
        400,
        "VALIDATION_ERROR",
        "timeFilterSelection.type",
    )
    problem(
        cf.across(timeFilterSelection={"type": "Custom"}),
        400,
        "VALIDATION_ERROR",
        "timeFilterSelection.customStartUtc",
    )


def test_bulk_update_accepts_and_forbids(
    v2: MakeV2, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    close_me, assign_me = (incident_id(client, tenant) for _ in range(2))
    theirs = incident_id(client, other_tenant)
    cf = v2(tenant.keys[Role.ANALYST])
    items = [
        {
            "id": close_me,
            "workspace": str(tenant.id),
            "status": "Closed",
            "classification": "Undetermined",
            "classificationReason": "InaccurateData",
            "comment": "bulk close",
            "incidentSource": "Sentinel",
        },
        {
            "id": assign_me,
            "workspace": str(tenant.id),
            "status": "Active",
            "user": {"email": tenant.member_email},
        },
        {"id": theirs, "workspace": str(other_tenant.id), "status": "Active"},
        {"id": theirs, "workspace": str(tenant.id), "status": "Active"},
        {"id": str(uuid.uuid4()), "workspace": str(uuid.uuid4()), "status": "Active"},
    ]
    result = data(cf.bulk_update(items))
    assert sorted(result["accepted"]) == sorted([close_me, assign_me])
    forbidden = result["forbidden"]
    assert [f["incidentId"] for f in forbidden] == [theirs, theirs, items[4]["id"]]
    assert len({f["reason"] for f in forbidden}) == 1  # one reason: nothing is revealed
    closed = native(client, tenant, close_me)
    assert closed["status"] == "RESOLVED" and closed["resolution"] == "UNDETERMINED"
    assigned = native(client, tenant, assign_me)
    assert (
        assigned["status"] == "UNDER_INVESTIGATION" and assigned["assignee"] == tenant.member_email
    )
    assert native(client, other_tenant, theirs)["status"] == "OPEN"


def test_bulk_update_refuses_bad_values_before_writing(
    v2: MakeV2, client: httpx.Client, tenant: TenantKeys
) -> None:
    good, other = (incident_id(client, tenant) for _ in range(2))
    cf = v2(tenant.keys[Role.ANALYST])
    items = [
        {"id": good, "workspace": str(tenant.id), "status": "Active"},
        {
            "id": other,
            "workspace": str(tenant.id),
            "status": "Closed",
            "classification": "TruePositive",
            "classificationReason": "NotMalicious",
        },
    ]
    problem(cf.bulk_update(items), 400, "VALIDATION_ERROR", "items[1].classificationReason")
    stranger = [
        {"id": good, "workspace": str(tenant.id), "status": "Active"},
        {"id": other, "workspace": str(tenant.id), "user": {"email": "nobody@example.test"}},
    ]
    problem(cf.bulk_update(stranger), 400, "VALIDATION_ERROR", "items[1].user")
    assert native(client, tenant, good)["status"] == "OPEN"
    assert native(client, tenant, other)["status"] == "OPEN"
    problem(cf.bulk_update([]), 400, "VALIDATION_ERROR")
    viewer = v2(tenant.keys[Role.VIEWER]).bulk_update(items[:1])
    problem(viewer, 403, "INSUFFICIENT_WORKSPACE_ROLE")
