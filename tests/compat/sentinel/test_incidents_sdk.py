"""Sentinel incidents through the official client: list (paging, $filter, $orderby), get,
create-or-update (close with a verdict, assign, stale etag), delete, and tenancy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.securityinsight.models import Incident, IncidentLabel, IncidentOwnerInfo

from muster.models.enums import Role
from tests.api.apicalls import get_incident, patch_incident, post_alerts, ts
from tests.compat.sentinel.sdk import RESOURCE_GROUP, prefix, sentinel_client, workspace
from tests.factories import TenantKeys, alert

SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}


def open_incidents(
    client: httpx.Client, tenant: TenantKeys, *severities: int
) -> list[dict[str, Any]]:
    """One incident per severity (distinct rules never group together); native reads."""
    marker = uuid.uuid4().hex[:8]
    bodies = [
        alert(ruleName=f"rule {marker} #{n}", severity=severity, hostname=f"h{n}-{marker}")
        for n, severity in enumerate(severities)
    ]
    items = post_alerts(client, tenant, *bodies, batch=True)["items"]
    assert len({item["incidentId"] for item in items}) == len(severities)
    return [get_incident(client, tenant, item["incidentId"]) for item in items]


class TestList:
    def test_paging_returns_every_incident_exactly_once(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 1, 2, 3, 4, 3, 2, 1)
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])

        pages = sentinel.incidents.list(RESOURCE_GROUP, workspace(tenant), top=3).by_page()
        names = [[i.name for i in page] for page in pages]

        assert [len(page) for page in names] == [3, 3, 1]
        flat = [name for page in names for name in page]
        assert sorted(flat) == sorted(i["id"] for i in made)

    def test_filter_and_orderby(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 4, 1, 4, 3, 2)
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])
        ws = workspace(tenant)

        high = sentinel.incidents.list(
            RESOURCE_GROUP,
            ws,
            filter="properties/severity eq 'High' and properties/status eq 'New'",
            orderby="properties/incidentNumber desc",
        )
        expected = sorted((i for i in made if i["severity"] == 4), key=lambda i: -i["number"])
        assert [i.name for i in high] == [i["id"] for i in expected]

        at_least_low = list(
            sentinel.incidents.list(
                RESOURCE_GROUP,
                ws,
                filter="properties/severity ge 'Low'",
                orderby="properties/severity asc",
                top=2,
            )
        )
        assert [SEVERITY_NAMES[i["severity"]] for i in made if i["severity"] >= 2] != []
        assert sorted(i.name for i in at_least_low) == sorted(
            i["id"] for i in made if i["severity"] >= 2
        )
        order = ["Informational", "Low", "Medium", "High"]
        ranks = [order.index(i.severity) for i in at_least_low]
        assert ranks == sorted(ranks)

    def test_filter_on_title_and_created_time(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 3, 3)
        first = made[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])
        word = first["description"].split("#")[0].strip()  # "rule <marker>": both titles
        created = ts(first["createdAt"]).isoformat().replace("+00:00", "Z")

        titled = sentinel.incidents.list(
            RESOURCE_GROUP, workspace(tenant), filter=f"contains(properties/title, '{word}')"
        )
        assert sorted(i.name for i in titled) == sorted(i["id"] for i in made)

        later = sentinel.incidents.list(
            RESOURCE_GROUP,
            workspace(tenant),
            filter=f"properties/createdTimeUtc ge {created} and "
            f"properties/incidentNumber eq {first['number']}",
        )
        assert [i.name for i in later] == [first["id"]]


class TestGet:
    def test_reads_the_incident_in_sentinel_terms(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert(severity=4, mitreTactic="Lateral Movement", mitreTechnique="T1021")
        item = post_alerts(client, tenant, body)["items"][0]
        native = get_incident(client, tenant, item["incidentId"])
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])

        got = sentinel.incidents.get(RESOURCE_GROUP, workspace(tenant), native["id"])

        assert got.id == f"{prefix(tenant)}/incidents/{native['id']}"
        assert got.name == native["id"]
        assert got.type == "Microsoft.SecurityInsights/incidents"
        assert got.etag == f'"{native["version"]}"'
        assert got.title == native["description"] == body["ruleName"]
        assert got.description == native["details"]
        assert got.severity == "High"
        assert got.status == "New"
        assert got.classification is None
        assert got.incident_number == native["number"]
        assert got.created_time_utc == ts(native["createdAt"])
        assert got.related_analytic_rule_ids == [body["ruleName"]]
        assert got.incident_url.endswith(f"/api/v1/incidents/{native['id']}")
        assert got.additional_data.alerts_count == 1
        assert got.additional_data.comments_count == 0
        assert got.additional_data.alert_product_names == [body["source"]]
        assert got.additional_data.tactics == ["LateralMovement"]
        assert got.owner.object_id is None and got.owner.email is None

    def test_an_unknown_incident_is_not_found(self, base_url: str, tenant: TenantKeys) -> None:
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])
        for missing in (str(uuid.uuid4()), "not-a-uuid"):
            with pytest.raises(ResourceNotFoundError) as caught:
                sentinel.incidents.get(RESOURCE_GROUP, workspace(tenant), missing)
            assert caught.value.error is not None
            assert caught.value.error.code == "NotFound"

    def test_another_tenants_workspace_is_not_found(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        theirs = open_incidents(client, other_tenant, 3)[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.TENANT_ADMIN])
        with pytest.raises(ResourceNotFoundError):
            sentinel.incidents.get(RESOURCE_GROUP, workspace(other_tenant), theirs["id"])
        with pytest.raises(ResourceNotFoundError):
            list(sentinel.incidents.list(RESOURCE_GROUP, workspace(other_tenant)))
        with pytest.raises(ResourceNotFoundError):  # own workspace, their incident
            sentinel.incidents.get(RESOURCE_GROUP, workspace(tenant), theirs["id"])

    def test_a_global_key_reads_any_workspace(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys, global_key: str
    ) -> None:
        made = open_incidents(client, tenant, 2)[0]
        got = sentinel_client(base_url, global_key).incidents.get(
            RESOURCE_GROUP, workspace(tenant), made["id"]
        )
        assert got.name == made["id"] and got.severity == "Low"


class TestUpdate:
    def test_close_with_a_verdict_and_read_it_back(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 3)[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws = workspace(tenant)
        incident = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        incident.status = "Closed"
        incident.classification = "FalsePositive"
        incident.classification_reason = "IncorrectAlertLogic"
        incident.classification_comment = "the rule fires on backups"

        answer = sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], incident)

        assert answer.status == "Closed"
        again = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        assert (again.classification, again.classification_reason) == (
            "FalsePositive",
            "IncorrectAlertLogic",
        )
        assert again.classification_comment == "the rule fires on backups"
        assert again.etag != incident.etag
        native = get_incident(client, tenant, made["id"])
        assert native["status"] == "RESOLVED"
        assert native["resolution"] == "FALSE_POSITIVE"
        assert native["resolutionReason"] == "IncorrectAlertLogic"
        assert native["resolutionComment"] == "the rule fires on backups"

        # reopening with the object as read: its old verdict is not re-applied
        again.status = "Active"
        reopened = sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], again)
        assert reopened.status == "Active"
        assert (reopened.classification, reopened.classification_reason) == (None, None)
        assert get_incident(client, tenant, made["id"])["resolution"] is None

    def test_closing_without_a_classification_is_refused(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 3)[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        incident = sentinel.incidents.get(RESOURCE_GROUP, workspace(tenant), made["id"])
        incident.status = "Closed"
        with pytest.raises(HttpResponseError) as caught:
            sentinel.incidents.create_or_update(
                RESOURCE_GROUP, workspace(tenant), made["id"], incident
            )
        assert caught.value.status_code == 400
        assert "classification" in str(caught.value.message)
        assert get_incident(client, tenant, made["id"])["status"] == "OPEN"

    def test_a_stale_etag_is_a_conflict_and_saves_nothing(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 3)[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws = workspace(tenant)
        mine = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        theirs = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        theirs.severity = "High"
        sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], theirs)

        mine.title = "my stale edit"
        with pytest.raises(ResourceExistsError) as caught:
            sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], mine)

        assert caught.value.status_code == 409
        assert caught.value.error is not None and caught.value.error.code == "Conflict"
        native = get_incident(client, tenant, made["id"])
        assert native["description"] == made["description"]
        assert native["severity"] == 4

    def test_owner_labels_and_soar(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 2)[0]
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws = workspace(tenant)
        incident = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        incident.owner = IncidentOwnerInfo(email=tenant.member_email.upper())
        incident.labels = [IncidentLabel(label_name="phishing"), IncidentLabel(label_name="vip")]
        incident.status = "Active"

        answer = sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], incident)

        assert answer.owner.email == tenant.member_email
        assert answer.owner.assigned_to == tenant.member_name
        assert answer.owner.object_id is not None
        assert [label.label_name for label in answer.labels] == ["phishing", "vip"]
        native = get_incident(client, tenant, made["id"])
        assert native["assignee"] == tenant.member_email
        assert native["tags"] == ["phishing", "vip"]
        assert native["status"] == "UNDER_INVESTIGATION"

        # the client PUTs back what it read: nothing changes
        again = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        same = sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, made["id"], again)
        assert same.etag == again.etag

        assert patch_incident(client, tenant, made["id"], assignee="SOAR").status_code == 200
        soar = sentinel.incidents.get(RESOURCE_GROUP, ws, made["id"])
        assert soar.owner.assigned_to == "SOAR"
        assert soar.owner.object_id is None and soar.owner.email is None

    def test_put_creates_under_the_clients_id_then_updates(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws, new_id = workspace(tenant), str(uuid.uuid4())
        status_of = {"cls": lambda response, body, headers: response.http_response.status_code}
        incident = Incident(
            title="Raised from a Sentinel client",
            description="long text",
            severity="Low",
            status="New",
            labels=[IncidentLabel(label_name="manual")],
        )

        created = sentinel.incidents.create_or_update(RESOURCE_GROUP, ws, new_id, incident)
        assert created.name == new_id and created.incident_number > 0
        native = get_incident(client, tenant, new_id)
        assert (native["description"], native["details"]) == (incident.title, "long text")
        assert (native["severity"], native["tags"]) == (2, ["manual"])

        incident.title = "Renamed"
        first = sentinel.incidents.create_or_update(
            RESOURCE_GROUP, ws, str(uuid.uuid4()), incident, **status_of
        )
        second = sentinel.incidents.create_or_update(
            RESOURCE_GROUP, ws, new_id, incident, **status_of
        )
        assert (first, second) == (201, 200)
        assert get_incident(client, tenant, new_id)["description"] == "Renamed"


class TestDelete:
    def test_delete_needs_tenant_admin_and_is_idempotent(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = open_incidents(client, tenant, 3)[0]
        ws = workspace(tenant)
        with pytest.raises(HttpResponseError) as caught:
            sentinel_client(base_url, tenant.keys[Role.ANALYST]).incidents.delete(
                RESOURCE_GROUP, ws, made["id"]
            )
        assert caught.value.status_code == 403

        admin = sentinel_client(base_url, tenant.keys[Role.TENANT_ADMIN])
        admin.incidents.delete(RESOURCE_GROUP, ws, made["id"])
        with pytest.raises(ResourceNotFoundError):
            admin.incidents.get(RESOURCE_GROUP, ws, made["id"])
        admin.incidents.delete(RESOURCE_GROUP, ws, made["id"])  # 204: nothing left to delete
        resp = client.get(f"/api/v1/incidents/{made['id']}", headers=tenant.headers())
        assert resp.status_code == 404
