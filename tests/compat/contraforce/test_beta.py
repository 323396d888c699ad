"""The ContraForce beta partner API over HTTP with a partner client: auth, envelope, list
paging and defaults, details, entities, evidence, `/incidents/all`, tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from muster.compat.contraforce.windows import ALL_WINDOW, LIST_WINDOW
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models import Incident
from muster.models.enums import Role
from tests.compat.contraforce.conftest import MakeBeta, incident_id, make_incidents, native
from tests.factories import TenantKeys


def assert_beta_error(resp: httpx.Response, status: int, word: str | None = None) -> None:
    """A beta error: `{message, isSuccess: false}`, no value."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"message", "isSuccess"}, body
    assert body["isSuccess"] is False and body["message"]
    if word is not None:
        assert word in body["message"], body


def value(resp: httpx.Response) -> Any:
    """The `value` of a beta success envelope."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["isSuccess"] is True and isinstance(body["message"], str)
    return body["value"]


def backdate(db: Database, tenant: TenantKeys, ident: str, age: timedelta) -> None:
    """Move an incident's creation time into the past (data setup)."""
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        session.execute(
            update(Incident)
            .where(Incident.id == uuid.UUID(ident))
            .values(created_at=datetime.now(UTC) - age)
        )


def test_welcome_and_auth(beta: MakeBeta, tenant: TenantKeys, client: httpx.Client) -> None:
    good = beta(tenant.keys[Role.VIEWER]).http.get("/")
    assert good.status_code == 200 and good.json()["message"] == "Welcome to the ContraForce API"
    assert_beta_error(client.get("/api/beta/partners/"), 401)
    bad = beta("mst_0000000000_nope").incidents(str(tenant.id))
    assert_beta_error(bad, 401)
    assert_beta_error(
        beta(tenant.keys[Role.VIEWER]).http.post("/incidents", json={}), 400, "tenantId"
    )


def test_pages_each_incident_exactly_once(
    beta: MakeBeta, client: httpx.Client, tenant: TenantKeys
) -> None:
    made = {i["incidentId"] for i in make_incidents(client, tenant, 7)}
    partner = beta(tenant.keys[Role.VIEWER])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {"take": 3, **({"pageToken": token} if token else {})}
        page = value(partner.incidents(str(tenant.id), **body))
        assert len(page["incidents"]) <= 3
        seen.extend(i["id"] for i in page["incidents"])
        created = [i["creationTime"] for i in page["incidents"]]
        assert created == sorted(created, reverse=True)  # newest first
        token = page["nextPageLink"]
        pages += 1
        if token is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert pages == 3


def test_dates_default_to_the_last_day(
    beta: MakeBeta, client: httpx.Client, tenant: TenantKeys, db: Database
) -> None:
    recent, old = (i["incidentId"] for i in make_incidents(client, tenant, 2))
    backdate(db, tenant, old, LIST_WINDOW + timedelta(hours=1))
    partner = beta(tenant.keys[Role.VIEWER])
    default = {i["id"] for i in value(partner.incidents(str(tenant.id)))["incidents"]}
    assert default == {recent}
    since = (datetime.now(UTC) - LIST_WINDOW - timedelta(hours=2)).isoformat()
    wider = {
        i["id"] for i in value(partner.incidents(str(tenant.id), startDate=since))["incidents"]
    }
    assert wider == {recent, old}
    until = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    before = value(partner.incidents(str(tenant.id), startDate=since, endDate=until))
    assert {i["id"] for i in before["incidents"]} == {old}


def test_filters_and_bad_values(beta: MakeBeta, client: httpx.Client, tenant: TenantKeys) -> None:
    high, low = (incident_id(client, tenant, severity=s) for s in (4, 2))
    partner = beta(tenant.keys[Role.VIEWER])
    found = value(partner.incidents(str(tenant.id), severity="high"))["incidents"]
    assert [i["id"] for i in found] == [high] and found[0]["severity"] == 4
    news = value(partner.incidents(str(tenant.id), status="new"))["incidents"]
    assert {i["id"] for i in news} == {high, low} and {i["status"] for i in news} == {2}
    assert value(partner.incidents(str(tenant.id), status="closed"))["incidents"] == []
    number = native(client, tenant, low)["number"]
    by_number = value(partner.incidents(str(tenant.id), query=str(number)))["incidents"]
    assert low in [i["id"] for i in by_number]
    title = native(client, tenant, high)["description"]
    by_title = value(partner.incidents(str(tenant.id), query=title))["incidents"]
    assert [i["id"] for i in by_title] == [high]
    assert_beta_error(partner.incidents(str(tenant.id), severity="severe"), 400, "severity")
    assert_beta_error(partner.incidents(str(tenant.id), status="open"), 400, "status")
    assert_beta_error(partner.incidents(str(tenant.id), take=0), 400)
    assert_beta_error(partner.incidents(str(tenant.id), take=1001), 400)
    assert_beta_error(partner.incidents(str(tenant.id), pageToken="forged"), 400, "pageToken")


def test_details_entities_evidence(
    beta: MakeBeta, client: httpx.Client, tenant: TenantKeys
) -> None:
    ident = incident_id(client, tenant, username="eve@corp.example", srcIp="10.9.8.7")
    partner = beta(tenant.keys[Role.VIEWER])
    details = value(partner.incident_part(str(tenant.id), ident, "details"))
    seen = native(client, tenant, ident)
    assert details["id"] == ident and details["title"] == seen["description"]
    assert details["number"] == seen["number"] and details["alertsCount"] == 1
    assert details["alertProductNames"] == [seen["alerts"][0]["source"]]
    entities = value(partner.incident_part(str(tenant.id), ident, "entities"))
    kinds = {e["kind"] for e in entities}
    assert {"Host", "Ip", "Account"} <= kinds
    for entity in entities:
        assert entity["id"] and entity["friendlyName"]
        assert entity["type"] == "Microsoft.SecurityInsights/Entities"
    host = next(e for e in entities if e["kind"] == "Host")
    hostname = seen["alerts"][0]["hostname"]
    assert host["hostName"] and hostname.lower().startswith(host["hostName"].lower())
    account = next(e for e in entities if e["kind"] == "Account")
    assert account["userUpn"] == "eve@corp.example"
    ips = [e for e in entities if e["kind"] == "Ip"]
    assert any(e["friendlyName"] == "10.9.8.7" for e in ips)
    evidence = value(partner.incident_part(str(tenant.id), ident, "evidence"))
    assert isinstance(evidence["columns"], list) and isinstance(evidence["rows"], list)
    for row in evidence["rows"]:
        assert len(row) == len(evidence["columns"]) and all(isinstance(c, str) for c in row)


def test_another_tenants_incident_is_not_found(
    beta: MakeBeta, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    theirs = incident_id(client, other_tenant)
    mine = beta(tenant.keys[Role.VIEWER])
    # naming the other tenant: 404, as for a tenant that does not exist
    assert_beta_error(mine.incident_part(str(other_tenant.id), theirs, "details"), 404)
    assert_beta_error(mine.incident_part(str(uuid.uuid4()), theirs, "details"), 404)
    assert_beta_error(mine.incidents(str(other_tenant.id)), 404)
    # naming its own tenant: the other tenant's incident does not exist there
    for part in ("details", "entities", "evidence"):
        assert_beta_error(mine.incident_part(str(tenant.id), theirs, part), 404)
    assert_beta_error(mine.incident_part(str(tenant.id), "not-a-guid", "details"), 404)


def test_all_incidents_with_a_global_key(
    beta: MakeBeta,
    client: httpx.Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    global_key: str,
    db: Database,
) -> None:
    tag = uuid.uuid4().hex[:10]
    mine = make_incidents(client, tenant, 2, description=f"shared {tag}")
    theirs = make_incidents(client, other_tenant, 1, description=f"shared {tag}")
    old = incident_id(client, tenant, description=f"shared {tag}")
    backdate(db, tenant, old, ALL_WINDOW + timedelta(hours=1))
    partner = beta(global_key)
    got = value(partner.all_incidents(query=tag, take=1000))
    ids = {i["incidentId"] for i in [*mine, *theirs]}
    assert {i["id"] for i in got["incidents"]} == ids  # `old` is outside the 3 h default
    assert got["totalCount"] == 3
    names = {str(tenant.id): tenant.name, str(other_tenant.id): other_tenant.name}
    for item in got["incidents"]:
        assert names[item["workspaceId"]] == item["workspaceName"]
        assert item["source"] == 1 and item["sourceDisplayName"] == "Microsoft Sentinel"
    created = [i["creationTime"] for i in got["incidents"]]
    assert created == sorted(created, reverse=True)
    top = value(partner.all_incidents(query=tag, take=2))
    assert top["incidents"] == got["incidents"][:2] and top["totalCount"] == 3
    one = value(partner.all_incidents(query=tag, accountId=str(other_tenant.id)))
    assert [i["id"] for i in one["incidents"]] == [theirs[0]["incidentId"]]
    since = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    wider = value(partner.all_incidents(query=tag, startDate=since))
    assert old in {i["id"] for i in wider["incidents"]}
    assert value(partner.all_incidents(query=tag, sources=[3]))["incidents"] == []
    assert_beta_error(partner.all_incidents(sources=[9]), 400, "sources")
    assert_beta_error(partner.all_incidents(severity="urgent"), 400, "severity")


def test_all_incidents_with_a_tenant_key_sees_only_its_own(
    beta: MakeBeta, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    tag = uuid.uuid4().hex[:10]
    mine = incident_id(client, tenant, description=f"both {tag}")
    incident_id(client, other_tenant, description=f"both {tag}")
    partner = beta(tenant.keys[Role.VIEWER])
    got = value(partner.all_incidents(query=tag))
    assert [i["id"] for i in got["incidents"]] == [mine] and got["totalCount"] == 1
    assert_beta_error(partner.all_incidents(accountId=str(other_tenant.id)), 404)
