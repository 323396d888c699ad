"""muster's Sentinel answers against Microsoft's own examples (../shared/data/alerts/
azure-rest-api-sentinel): every key the example has, with a value of the same JSON type."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import patch_incident, post_alerts
from tests.compat.sentinel.sdk import raw_call
from tests.factories import TenantKeys, alert


def example(shared_alerts: Path, name: str) -> Any:
    """The 200 body of one of Microsoft's examples."""
    text = (shared_alerts / "azure-rest-api-sentinel" / name).read_text("utf-8")
    return json.loads(text)["responses"]["200"]["body"]


def assert_same_shape(ours: Any, theirs: Any, where: str = "$") -> None:
    """Every key of `theirs` is in `ours` with the same JSON type (null in either: any);
    lists are compared element to element against the example's first element."""
    if theirs is None or ours is None:
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: {ours!r} is not an object"
        for key, value in theirs.items():
            assert key in ours, f"{where}.{key} is missing"
            assert_same_shape(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list"
        if theirs:
            for n, item in enumerate(ours):
                assert_same_shape(item, theirs[0], f"{where}[{n}]")
    else:
        kind = (int, float) if isinstance(theirs, int | float) else type(theirs)
        assert isinstance(ours, kind), f"{where}: {ours!r} is not like {theirs!r}"


@pytest.fixture()
def closed_incident(client: httpx.Client, tenant: TenantKeys) -> str:
    """An incident with two alerts, an owner, a tag and a verdict, like the examples'."""
    marker = uuid.uuid4().hex[:8]
    bodies = [
        alert(ruleName=f"shape {marker}", hostname=f"h-{marker}", username="administrator")
        for _ in range(2)
    ]
    incident = post_alerts(client, tenant, *bodies, batch=True)["items"][0]["incidentId"]
    changed = patch_incident(
        client,
        tenant,
        incident,
        assignee=tenant.member_email,
        tags=["demo"],
        status="RESOLVED",
        resolution="FALSE_POSITIVE",
        resolutionReason="InaccurateData",
        resolutionComment="Not a malicious activity",
    )
    assert changed.status_code == 200, changed.text
    return str(incident)


def test_incident_matches_get_incident_by_id(
    shared_alerts: Path, client: httpx.Client, tenant: TenantKeys, closed_incident: str
) -> None:
    theirs = example(shared_alerts, "GetIncidentById.json")
    resp = raw_call(client, "GET", f"/incidents/{closed_incident}", tenant, role=Role.VIEWER)
    assert resp.status_code == 200, resp.text
    ours = resp.json()
    assert_same_shape(ours, theirs)
    assert ours["type"] == theirs["type"]
    props = ours["properties"]
    assert (props["status"], props["classification"], props["classificationReason"]) == (
        theirs["properties"]["status"],
        theirs["properties"]["classification"],
        theirs["properties"]["classificationReason"],
    )
    assert props["owner"]["email"] == tenant.member_email
    assert props["labels"] == [{"labelName": "demo", "labelType": "User"}]


def test_incident_list_matches_get_incidents(
    shared_alerts: Path, client: httpx.Client, tenant: TenantKeys, closed_incident: str
) -> None:
    theirs = example(shared_alerts, "GetIncidents.json")
    params = {"$orderby": "properties/createdTimeUtc desc", "$top": "1"}
    resp = raw_call(client, "GET", "/incidents", tenant, role=Role.VIEWER, params=params)
    assert resp.status_code == 200, resp.text
    ours = resp.json()
    assert_same_shape(ours, theirs)
    assert [i["name"] for i in ours["value"]] == [closed_incident]


def test_alerts_match_get_all_incident_alerts(
    shared_alerts: Path, client: httpx.Client, tenant: TenantKeys, closed_incident: str
) -> None:
    theirs = example(shared_alerts, "GetAllIncidentAlerts.json")
    resp = raw_call(client, "POST", f"/incidents/{closed_incident}/alerts", tenant)
    assert resp.status_code == 200, resp.text
    ours = resp.json()
    assert_same_shape(ours, theirs)
    assert len(ours["value"]) == 2
    assert {a["kind"] for a in ours["value"]} == {theirs["value"][0]["kind"]}


def test_entities_match_get_all_incident_entities(
    shared_alerts: Path, client: httpx.Client, tenant: TenantKeys, closed_incident: str
) -> None:
    theirs = example(shared_alerts, "GetAllIncidentEntities.json")
    resp = raw_call(client, "POST", f"/incidents/{closed_incident}/entities", tenant)
    assert resp.status_code == 200, resp.text
    ours = resp.json()
    accounts = [e for e in ours["entities"] if e["kind"] == "Account"]
    assert len(accounts) == 1  # both alerts name the same user: one entity
    assert_same_shape({**ours, "entities": accounts}, theirs)
    assert accounts[0]["properties"]["accountName"] == "administrator"
    assert {"entityKind": "Account", "count": 1} in ours["metaData"]
