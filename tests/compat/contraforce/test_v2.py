"""The ContraForce v2 API over HTTP with a client written like ContraForce's sample client:
Basic auth, envelopes and problem+json, incident reads, comments, status and assignee on the
current and the legacy route shapes, workspace isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.compat.contraforce.conftest import MakeV2, incident_id, native
from tests.factories import TenantKeys

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "requestId", "timestamp"}


def problem(
    resp: httpx.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """A v2 error: problem+json with ContraForce's code; `field` named in the errors map."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["code"] == code and body["status"] == status
    assert body["instance"] == resp.request.url.path
    assert body["requestId"] == resp.headers["x-request-id"]
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(m, str) for m in body["errors"][field])
    return body


def data(resp: httpx.Response, status: int = 200) -> Any:
    """The `data` of a v2 envelope, checking meta."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["meta"]["requestId"] == resp.headers["x-request-id"]
    assert body["meta"]["timestamp"].endswith("Z")
    return body["data"]


def test_basic_auth_is_required(v2: MakeV2, tenant: TenantKeys, client: httpx.Client) -> None:
    ident = incident_id(client, tenant)
    path = f"/api/v2/workspaces/{tenant.id}/incidents/Sentinel/{ident}"
    problem(client.get(path), 401, "UNAUTHORIZED")
    problem(client.get(path, headers=tenant.headers(Role.VIEWER)), 401, "UNAUTHORIZED")
    problem(client.get(path, auth=("mst_0000000000", "wrong")), 401, "UNAUTHORIZED")
    assert (
        data(v2(tenant.keys[Role.VIEWER]).incident(str(tenant.id), ident))["incident"]["id"]
        == ident
    )


def test_incident_and_details(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant, severity=3, srcIp="10.1.2.3", mitreTactic="Execution")
    cf = v2(tenant.keys[Role.VIEWER])
    plain = data(cf.incident(str(tenant.id), ident))
    seen = native(client, tenant, ident)
    item = plain["incident"]
    assert plain["source"] == item["source"] == "Sentinel"
    assert item["workspaceId"] == str(tenant.id) and item["severity"] == "Medium"
    assert item["status"] == "New" and item["classification"] is None
    assert item["title"] == seen["description"] and item["number"] == seen["number"]
    assert item["displayId"] == str(seen["number"]) and item["tactics"] == ["Execution"]
    assert item["user"] == {"id": None, "displayName": None, "email": None}
    assert any(e["friendlyName"] == "10.1.2.3" for e in item["entities"])
    assert plain["investigationDetails"] is None and plain["evidence"] is None
    full = data(cf.incident(str(tenant.id), ident, details=True))
    (alert,) = full["investigationDetails"]["alerts"]
    assert (
        alert["id"] == seen["alerts"][0]["id"]
        and alert["productName"] == seen["alerts"][0]["source"]
    )
    assert full["investigationDetails"]["entities"] == item["entities"]
    assert set(full["evidence"]) == {"columns", "rows"}
    # the source segment is validated (any case), but muster has one store
    assert data(cf.incident(str(tenant.id), ident, source="splunk"))["incident"]["id"] == ident
    problem(cf.incident(str(tenant.id), ident, source="Elastic"), 400, "VALIDATION_ERROR", "source")
    problem(cf.incident(str(tenant.id), str(uuid.uuid4())), 404, "NOT_FOUND")


def test_evidence_in_both_shapes(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant)
    cf = v2(tenant.keys[Role.VIEWER])
    current = data(cf.http.get(f"/workspaces/{tenant.id}/incidents/Sentinel/{ident}/evidence"))
    legacy = data(cf.http.get(f"/workspaces/{tenant.id}/incidents/{ident}/Sentinel/evidence"))
    assert current == legacy and set(current) == {"columns", "rows"}
    bad = cf.http.get(f"/workspaces/{tenant.id}/incidents/{ident}/Nope/evidence")
    problem(bad, 400, "VALIDATION_ERROR", "source")


def test_comments_new_and_legacy(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant)
    ws = str(tenant.id)
    cf = v2(tenant.keys[Role.ANALYST])
    created = data(
        cf.sub("POST", ws, ident, "comments", json={"content": "first", "extensionId": "x1"}), 201
    )
    assert created["message"] == "first" and created["isAgentComment"] is False
    assert created["createdTime"].endswith("Z") and created["id"]
    legacy = data(cf.post_comment(ws, ident, "second via sample client"), 201)
    listed = data(cf.sub("GET", ws, ident, "comments"))
    assert [c["id"] for c in listed] == [created["id"], legacy["id"]]
    assert data(cf.http.get(f"/workspaces/{ws}/incidents/{ident}/comments")) == listed
    keys = {
        "id",
        "message",
        "createdTime",
        "authorEmail",
        "authorName",
        "isActivityComment",
        "isAgentComment",
        "agentName",
        "isClosingComment",
        "ticketNoteId",
        "ticketId",
    }
    assert all(set(c) == keys for c in listed)
    mismatch = cf.http.post(
        f"/workspaces/{ws}/incidents/{ident}/comments",
        json={"incidentId": str(uuid.uuid4()), "content": "x", "source": "Sentinel"},
    )
    problem(mismatch, 400, "VALIDATION_ERROR", "incidentId")
    problem(cf.sub("POST", ws, ident, "comments", json={"content": ""}), 400, "VALIDATION_ERROR")
    viewer = v2(tenant.keys[Role.VIEWER]).post_comment(ws, ident, "nope")
    problem(viewer, 403, "INSUFFICIENT_WORKSPACE_ROLE")


@pytest.mark.parametrize(
    ("classification", "reason", "resolution"),
    [
        ("Undetermined", "InaccurateData", "UNDETERMINED"),  # Sentinel write-back default
        ("TruePositive", "Malware", "TRUE_POSITIVE"),  # ContraForce taxonomy
        ("BenignPositive", "SuspiciousButExpected", "BENIGN_POSITIVE"),
        ("falsepositive", "IncorrectAlertLogic", "FALSE_POSITIVE"),  # any case
        (2, "NotMalicious", "FALSE_POSITIVE"),  # the beta integer
    ],
)
def test_closing_pairs_that_are_accepted(
    v2: MakeV2,
    client: httpx.Client,
    tenant: TenantKeys,
    classification: Any,
    reason: str,
    resolution: str,
) -> None:
    ident = incident_id(client, tenant)
    cf = v2(tenant.keys[Role.ANALYST])
    resp = cf.close_incident(str(tenant.id), ident, "closing note", classification, reason)  # type: ignore[arg-type]
    assert resp.status_code == 204, resp.text
    seen = native(client, tenant, ident)
    assert seen["status"] == "RESOLVED" and seen["resolution"] == resolution
    assert seen["resolutionReason"].lower() == reason.lower()
    assert seen["resolutionComment"] == "closing note"
    comments = data(cf.sub("GET", str(tenant.id), ident, "comments"))
    assert comments[-1]["message"] == "closing note" and comments[-1]["isClosingComment"] is True
    item = data(cf.incident(str(tenant.id), ident))["incident"]
    assert item["status"] == "Closed" and item["classification"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "status": "Closed",
                "classification": "TruePositive",
                "classificationReason": "NotMalicious",
            },
            "classificationReason",
        ),
        (
            {
                "status": "Closed",
                "classification": "Undetermined",
                "classificationReason": "Phishing",
            },
            "classificationReason",
        ),
        (
            {"status": "Closed", "classification": "Maybe", "classificationReason": "Other"},
            "classification",
        ),
        ({"status": "Closed"}, "classification"),
        ({"status": "Closed", "classificationReason": "Other"}, "classificationReason"),
        ({"status": "Resolved"}, "status"),
    ],
)
def test_status_bodies_that_are_refused(
    v2: MakeV2, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any], field: str
) -> None:
    ident = incident_id(client, tenant)
    cf = v2(tenant.keys[Role.ANALYST])
    problem(cf.set_status(str(tenant.id), ident, **body), 400, "VALIDATION_ERROR", field)
    assert native(client, tenant, ident)["status"] == "OPEN"


def test_status_moves_and_reopen(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant)
    ws = str(tenant.id)
    cf = v2(tenant.keys[Role.ANALYST])
    assert cf.set_status(ws, ident, status="Active").status_code == 204
    assert native(client, tenant, ident)["status"] == "UNDER_INVESTIGATION"
    closed = cf.set_status(
        ws, ident, status="Closed", classification="TruePositive", classificationReason="Phishing"
    )
    assert closed.status_code == 204
    assert cf.set_status(ws, ident, status="New").status_code == 204
    seen = native(client, tenant, ident)
    assert seen["status"] == "OPEN" and seen["resolution"] is None
    problem(
        v2(tenant.keys[Role.VIEWER]).set_status(ws, ident, status="Active"),
        403,
        "INSUFFICIENT_WORKSPACE_ROLE",
    )


def test_assignee_new_and_legacy(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant)
    ws = str(tenant.id)
    cf = v2(tenant.keys[Role.ANALYST])
    assert (
        cf.sub("PUT", ws, ident, "assignee", json={"email": tenant.member_email}).status_code == 204
    )
    item = data(cf.incident(ws, ident))["incident"]
    assert item["user"]["email"] == tenant.member_email and item["isAssigned"] is True
    user_id = item["user"]["id"]
    assert cf.sub("PUT", ws, ident, "assignee", json={}).status_code == 204
    assert native(client, tenant, ident)["assignee"] is None
    legacy = cf.http.put(f"/workspaces/{ws}/incidents/{ident}/assign", json={"userId": user_id})
    assert legacy.status_code == 204, legacy.text
    assert native(client, tenant, ident)["assignee"] == tenant.member_email
    stranger = cf.sub("PUT", ws, ident, "assignee", json={"email": "nobody@example.test"})
    problem(stranger, 400, "VALIDATION_ERROR", "email")
    unknown = cf.http.put(
        f"/workspaces/{ws}/incidents/{ident}/assignee", json={"userId": str(uuid.uuid4())}
    )
    problem(unknown, 400, "VALIDATION_ERROR", "userId")


def test_legacy_reads(v2: MakeV2, client: httpx.Client, tenant: TenantKeys) -> None:
    ident = incident_id(client, tenant, srcIp="10.3.3.3")
    ws = str(tenant.id)
    cf = v2(tenant.keys[Role.VIEWER])
    summary = data(cf.http.get(f"/workspaces/{ws}/incidents/{ident}/summary"))
    assert summary["id"] == ident and summary["source"] == "Sentinel"
    entities = data(cf.http.get(f"/workspaces/{ws}/incidents/{ident}/entities"))
    assert entities == summary["entities"] and any(
        e["friendlyName"] == "10.3.3.3" for e in entities
    )


def test_other_workspaces_reveal_nothing(
    v2: MakeV2, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    theirs = incident_id(client, other_tenant)
    cf = v2(tenant.keys[Role.TENANT_ADMIN])
    existing = problem(
        cf.incident(str(other_tenant.id), theirs), 403, "INSUFFICIENT_WORKSPACE_ROLE"
    )
    missing = problem(cf.incident(str(uuid.uuid4()), theirs), 403, "INSUFFICIENT_WORKSPACE_ROLE")
    assert existing["title"] == missing["title"]
    problem(cf.incident("not-a-guid", theirs), 403, "INSUFFICIENT_WORKSPACE_ROLE")
    problem(cf.close_incident(str(other_tenant.id), theirs), 403, "INSUFFICIENT_WORKSPACE_ROLE")
    # in its own workspace, the other tenant's incident does not exist
    problem(cf.incident(str(tenant.id), theirs), 404, "NOT_FOUND")
    problem(cf.close_incident(str(tenant.id), theirs), 404, "NOT_FOUND")
    assert native(client, other_tenant, theirs)["status"] == "OPEN"


def test_request_ids_and_unknown_routes(v2: MakeV2, tenant: TenantKeys) -> None:
    cf = v2(tenant.keys[Role.VIEWER])
    resp = cf.http.get(f"/workspaces/{tenant.id}/nothing-here")
    body = problem(resp, 404, "NOT_FOUND")
    again = cf.http.get(
        f"/workspaces/{tenant.id}/nothing-here", headers={"X-Request-Id": "trace-42"}
    )
    assert again.headers["x-request-id"] == "trace-42" and again.json()["requestId"] == "trace-42"
    assert body["requestId"] != "trace-42"
