"""What the official client hides: CloudError bodies for bad requests, and the raw paging
contract (absolute nextLink, absent on the last page, duplicated parameters tolerated)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError

from muster.models.enums import Role
from tests.api.apicalls import post_alerts
from tests.compat.sentinel.sdk import (
    RESOURCE_GROUP,
    assert_cloud_error,
    prefix,
    raw_call,
    sentinel_client,
    workspace,
)
from tests.factories import TenantKeys, alert


def some_incident(client: httpx.Client, tenant: TenantKeys) -> str:
    """A fresh incident of the tenant; its id."""
    item = post_alerts(client, tenant, alert(ruleName=f"r {uuid.uuid4().hex}"))["items"][0]
    return str(item["incidentId"])


class TestRequestChecks:
    def test_api_version_is_required_and_checked(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        missing = raw_call(client, "GET", "/incidents", tenant, api_version=None)
        message = assert_cloud_error(missing, 400, "MissingApiVersionParameter")
        assert "api-version" in message
        bad = raw_call(client, "GET", "/incidents", tenant, api_version="latest")
        assert_cloud_error(bad, 400, "InvalidApiVersionParameter")
        preview = raw_call(client, "GET", "/incidents", tenant, api_version="2024-01-01-preview")
        assert preview.status_code == 200, preview.text

    def test_a_key_is_required(self, client: httpx.Client, tenant: TenantKeys) -> None:
        path = prefix(tenant) + "/incidents"
        params = {"api-version": "2021-10-01"}
        assert_cloud_error(client.get(path, params=params), 401, "AuthenticationFailed")
        wrong = {"Authorization": "Bearer mst_not_a_real_key"}
        assert_cloud_error(
            client.get(path, params=params, headers=wrong), 401, "AuthenticationFailed"
        )

    def test_the_client_reports_a_bad_key(self, base_url: str, tenant: TenantKeys) -> None:
        sentinel = sentinel_client(base_url, "mst_not_a_real_key")
        with pytest.raises(ClientAuthenticationError):
            list(sentinel.incidents.list(RESOURCE_GROUP, workspace(tenant)))

    def test_unknown_routes_are_cloud_errors(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        resp = raw_call(client, "GET", "/watchlists", tenant)
        assert_cloud_error(resp, 404, "NotFound")

    @pytest.mark.parametrize(
        ("params", "named"),
        [
            ({"$filter": "properties/status eq"}, "$filter"),
            ({"$filter": "properties/status gt 'New'"}, "properties/status"),
            ({"$filter": "properties/providerName eq 'x'"}, "properties/providerName"),
            ({"$filter": "properties/severity eq 'Critical'"}, "Critical"),
            ({"$orderby": "properties/title desc"}, "$orderby"),
            ({"$top": "0"}, "$top"),
            ({"$top": "1001"}, "$top"),
            ({"$top": "ten"}, "$top"),
            ({"$top": "²"}, "$top"),  # a digit int() refuses
            ({"$skipToken": "not-a-cursor"}, ""),
        ],
    )
    def test_bad_list_parameters_are_400(
        self, client: httpx.Client, tenant: TenantKeys, params: dict[str, str], named: str
    ) -> None:
        resp = raw_call(client, "GET", "/incidents", tenant, role=Role.VIEWER, params=params)
        assert named in assert_cloud_error(resp, 400, "BadRequest")


class TestBodies:
    @pytest.mark.parametrize(
        "content", [b"{not json", b"", b"[1, 2]", b'{"properties": "x"}', b"\xff\xfe"]
    )
    def test_malformed_incident_bodies_are_400(
        self, client: httpx.Client, tenant: TenantKeys, content: bytes
    ) -> None:
        incident = some_incident(client, tenant)
        resp = raw_call(
            client,
            "PUT",
            f"/incidents/{incident}",
            tenant,
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert_cloud_error(resp, 400, "BadRequest")

    @pytest.mark.parametrize(
        ("properties", "named"),
        [
            ({"severity": "Critical"}, "properties.severity"),
            ({"status": "Resolved"}, "properties.status"),
            ({"status": "Closed", "classification": "Weird"}, "properties.classification"),
            (
                {"status": "Closed", "classification": "TruePositive", "classificationReason": "X"},
                "properties.classificationReason",
            ),
            ({"owner": {"email": "nobody@elsewhere.test"}}, "properties.owner"),
            ({"title": ""}, "properties.title"),
            ({"labels": [{"labelName": 5}]}, "properties.labels"),
        ],
    )
    def test_bad_incident_values_name_the_field(
        self, client: httpx.Client, tenant: TenantKeys, properties: dict[str, object], named: str
    ) -> None:
        incident = some_incident(client, tenant)
        resp = raw_call(
            client, "PUT", f"/incidents/{incident}", tenant, json={"properties": properties}
        )
        assert named in assert_cloud_error(resp, 400, "BadRequest")

    def test_creating_needs_title_and_severity(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        resp = raw_call(
            client, "PUT", f"/incidents/{uuid.uuid4()}", tenant, json={"properties": {}}
        )
        assert "properties.title" in assert_cloud_error(resp, 400, "BadRequest")
        not_uuid = raw_call(
            client,
            "PUT",
            "/incidents/my-incident",
            tenant,
            json={"properties": {"title": "t", "severity": "Low"}},
        )
        assert "incidentId" in assert_cloud_error(not_uuid, 400, "BadRequest")

    def test_if_match_header_is_checked(self, client: httpx.Client, tenant: TenantKeys) -> None:
        incident = some_incident(client, tenant)
        body = {"properties": {"title": "renamed"}}
        stale = raw_call(
            client,
            "PUT",
            f"/incidents/{incident}",
            tenant,
            json=body,
            headers={"If-Match": '"999"'},
        )
        assert "Newer version" in assert_cloud_error(stale, 409, "Conflict")
        odd = raw_call(  # a digit int() refuses
            client,
            "PUT",
            f"/incidents/{incident}",
            tenant,
            json=body,
            headers={"If-Match": b'"\xb2"'},
        )
        assert "If-Match" in assert_cloud_error(odd, 400, "BadRequest")
        fresh = raw_call(client, "GET", f"/incidents/{incident}", tenant).json()
        assert fresh["properties"]["title"] != "renamed"
        ok = raw_call(
            client,
            "PUT",
            f"/incidents/{incident}",
            tenant,
            json=body,
            headers={"If-Match": fresh["etag"]},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["properties"]["title"] == "renamed"
        assert ok.json()["etag"] != fresh["etag"]

    def test_comment_bodies_are_checked(self, client: httpx.Client, tenant: TenantKeys) -> None:
        incident = some_incident(client, tenant)
        path = f"/incidents/{incident}/comments/{uuid.uuid4()}"
        empty = raw_call(client, "PUT", path, tenant, json={"properties": {"message": ""}})
        assert "properties.message" in assert_cloud_error(empty, 400, "BadRequest")
        missing = raw_call(client, "PUT", path, tenant, json={})
        assert "properties" in assert_cloud_error(missing, 400, "BadRequest")
        bad_id = raw_call(
            client,
            "PUT",
            f"/incidents/{incident}/comments/first",
            tenant,
            json={"properties": {"message": "hi"}},
        )
        assert "incidentCommentId" in assert_cloud_error(bad_id, 400, "BadRequest")


class TestPagingContract:
    def test_next_link_is_absolute_and_absent_on_the_last_page(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = {some_incident(client, tenant) for _ in range(3)}
        params = {"$top": "2", "$orderby": "properties/incidentNumber asc"}
        first = raw_call(client, "GET", "/incidents", tenant, params=params)
        assert first.status_code == 200, first.text
        link = first.json()["nextLink"]
        assert link.startswith(base_url + prefix(tenant) + "/incidents?")
        query = dict(parse_qsl(urlsplit(link).query))
        assert query["$top"] == "2" and query["$skipToken"]

        # the official client re-appends its own parameters to nextLink: first values win
        repeated = client.get(
            link + "&$top=1&$orderby=properties/incidentNumber%20desc&api-version=2021-10-01",
            headers=tenant.headers(),
        )
        assert repeated.status_code == 200, repeated.text
        last = repeated.json()
        assert "nextLink" not in last
        names = [i["name"] for i in first.json()["value"]] + [i["name"] for i in last["value"]]
        assert sorted(names) == sorted(made)
        numbers = [i["properties"]["incidentNumber"] for i in first.json()["value"]] + [
            i["properties"]["incidentNumber"] for i in last["value"]
        ]
        assert numbers == sorted(numbers)
