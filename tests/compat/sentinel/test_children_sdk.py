"""An incident's comments, relations, alerts, entities and bookmarks through the official
client."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.securityinsight.models import (
    AccountEntity,
    HostEntity,
    IncidentComment,
    IpEntity,
    Relation,
    SecurityAlert,
)

from muster.models.enums import Role
from tests.api.apicalls import get_incident, post_alerts, ts
from tests.compat.sentinel.sdk import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    prefix,
    sentinel_client,
    workspace,
)
from tests.factories import TenantKeys, alert


def incident_with_alerts(
    client: httpx.Client, tenant: TenantKeys, *bodies: dict[str, Any]
) -> dict[str, Any]:
    """Ingest alerts that group into one incident; its native detail (with alerts)."""
    items = post_alerts(client, tenant, *bodies, batch=True)["items"]
    assert len({item["incidentId"] for item in items}) == 1
    return get_incident(client, tenant, items[0]["incidentId"])


def same_rule_alerts(count: int) -> list[dict[str, Any]]:
    """Alerts of one rule on one host (the default grouping puts them in one incident)."""
    marker = uuid.uuid4().hex[:8]
    return [
        alert(
            ruleName=f"Credential dumping {marker}",
            hostname=f"srv-{marker}.corp.example",
            username=f"svc{n}-{marker}@corp.example",
            srcIp=f"10.9.8.{n + 1}",
            severity=2 + n,
            mitreTactic="Credential Access",
            mitreTechnique="T1003",
        )
        for n in range(count)
    ]


class TestComments:
    def test_add_list_edit_and_delete(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = incident_with_alerts(client, tenant, *same_rule_alerts(1))
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws, iid = workspace(tenant), made["id"]
        first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())

        first = sentinel.incident_comments.create_or_update(
            RESOURCE_GROUP, ws, iid, first_id, IncidentComment(message="looking into it")
        )
        sentinel.incident_comments.create_or_update(
            RESOURCE_GROUP, ws, iid, second_id, IncidentComment(message="contained")
        )

        assert first.name == first_id
        assert first.id == f"{prefix(tenant)}/incidents/{iid}/comments/{first_id}"
        assert first.message == "looking into it"
        assert first.author.name and first.author.name.startswith("API key")
        listed = list(sentinel.incident_comments.list(RESOURCE_GROUP, ws, iid))
        assert [(c.name, c.message) for c in listed] == [
            (first_id, "looking into it"),
            (second_id, "contained"),
        ]
        incident = sentinel.incidents.get(RESOURCE_GROUP, ws, iid)
        assert incident.additional_data.comments_count == 2

        edited = sentinel.incident_comments.create_or_update(
            RESOURCE_GROUP, ws, iid, first_id, IncidentComment(message="looked: benign")
        )
        assert edited.message == "looked: benign"
        assert edited.last_modified_time_utc >= edited.created_time_utc
        got = sentinel.incident_comments.get(RESOURCE_GROUP, ws, iid, first_id)
        assert got.message == "looked: benign"

        sentinel.incident_comments.delete(RESOURCE_GROUP, ws, iid, second_id)
        with pytest.raises(ResourceNotFoundError):
            sentinel.incident_comments.get(RESOURCE_GROUP, ws, iid, second_id)
        assert [c.name for c in sentinel.incident_comments.list(RESOURCE_GROUP, ws, iid)] == [
            first_id
        ]
        sentinel.incident_comments.delete(RESOURCE_GROUP, ws, iid, second_id)  # 204, no error

    def test_comment_on_a_missing_incident_is_not_found(
        self, base_url: str, tenant: TenantKeys
    ) -> None:
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        with pytest.raises(ResourceNotFoundError):
            sentinel.incident_comments.create_or_update(
                RESOURCE_GROUP,
                workspace(tenant),
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                IncidentComment(message="hello"),
            )

    def test_a_viewer_cannot_comment(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = incident_with_alerts(client, tenant, *same_rule_alerts(1))
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])
        with pytest.raises(HttpResponseError) as caught:
            sentinel.incident_comments.create_or_update(
                RESOURCE_GROUP,
                workspace(tenant),
                made["id"],
                str(uuid.uuid4()),
                IncidentComment(message="hello"),
            )
        assert caught.value.status_code == 403


class TestRelations:
    def test_put_list_get_delete(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = incident_with_alerts(client, tenant, *same_rule_alerts(1))
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        ws, iid = workspace(tenant), made["id"]
        bookmark = str(uuid.uuid4())
        target = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            f"Microsoft.OperationalInsights/workspaces/{ws}/providers/"
            f"Microsoft.SecurityInsights/bookmarks/{bookmark}"
        )

        made_relation = sentinel.incident_relations.create_or_update(
            RESOURCE_GROUP, ws, iid, "to-bookmark", Relation(related_resource_id=target)
        )

        assert made_relation.name == "to-bookmark"
        assert made_relation.related_resource_id == target
        assert made_relation.related_resource_name == bookmark
        assert made_relation.related_resource_type == "Microsoft.SecurityInsights/bookmarks"
        listed = list(sentinel.incident_relations.list(RESOURCE_GROUP, ws, iid))
        assert [r.name for r in listed] == ["to-bookmark"]
        got = sentinel.incident_relations.get(RESOURCE_GROUP, ws, iid, "to-bookmark")
        assert got.related_resource_id == target

        sentinel.incident_relations.delete(RESOURCE_GROUP, ws, iid, "to-bookmark")
        with pytest.raises(ResourceNotFoundError):
            sentinel.incident_relations.get(RESOURCE_GROUP, ws, iid, "to-bookmark")

    def test_a_relation_needs_a_resource_id(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = incident_with_alerts(client, tenant, *same_rule_alerts(1))
        sentinel = sentinel_client(base_url, tenant.keys[Role.ANALYST])
        with pytest.raises(HttpResponseError) as caught:
            sentinel.incident_relations.create_or_update(
                RESOURCE_GROUP,
                workspace(tenant),
                made["id"],
                "broken",
                Relation(related_resource_id="not an ARM id"),
            )
        assert caught.value.status_code == 400
        assert "relatedResourceId" in str(caught.value.message)


class TestAlertsAndEntities:
    def test_list_alerts_matches_what_was_ingested(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        bodies = same_rule_alerts(2)
        made = incident_with_alerts(client, tenant, *bodies)
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])

        found = sentinel.incidents.list_alerts(RESOURCE_GROUP, workspace(tenant), made["id"])

        alerts = found.value
        assert all(isinstance(a, SecurityAlert) for a in alerts)
        assert [a.system_alert_id for a in alerts] == [a["id"] for a in made["alerts"]]
        assert [a.provider_alert_id for a in alerts] == [b["externalId"] for b in bodies]
        for got, sent, stored in zip(alerts, bodies, made["alerts"], strict=True):
            assert got.alert_display_name == sent["ruleName"]
            assert got.product_name == sent["source"]
            assert got.severity == ["Low", "Medium"][bodies.index(sent)]
            assert got.status == "New"
            assert got.tactics == ["CredentialAccess"]
            assert got.compromised_entity == sent["hostname"]
            assert got.start_time_utc == ts(stored["createdAt"])
        assert sentinel.incidents.get(
            RESOURCE_GROUP, workspace(tenant), made["id"]
        ).additional_data.alerts_count == len(bodies)

    def test_list_entities_by_kind(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        bodies = same_rule_alerts(2)
        made = incident_with_alerts(client, tenant, *bodies)
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])

        found = sentinel.incidents.list_entities(RESOURCE_GROUP, workspace(tenant), made["id"])

        hosts = [e for e in found.entities if isinstance(e, HostEntity)]
        ips = [e for e in found.entities if isinstance(e, IpEntity)]
        accounts = [e for e in found.entities if isinstance(e, AccountEntity)]
        assert [h.host_name for h in hosts] == [bodies[0]["hostname"].split(".")[0]]
        assert sorted(ip.address for ip in ips) == sorted(b["srcIp"] for b in bodies)
        assert sorted(a.upn_suffix for a in accounts) == ["corp.example", "corp.example"]
        assert sorted(a.account_name for a in accounts) == sorted(
            b["username"].split("@")[0] for b in bodies
        )
        counts = {m.entity_kind: m.count for m in found.meta_data}
        for kind in ("Host", "Ip", "Account"):
            assert counts[kind] == sum(1 for e in found.entities if e.kind == kind)
        assert sum(counts.values()) == len(found.entities)

    def test_bookmarks_are_empty_and_missing_incidents_not_found(
        self, base_url: str, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = incident_with_alerts(client, tenant, *same_rule_alerts(1))
        sentinel = sentinel_client(base_url, tenant.keys[Role.VIEWER])
        ws = workspace(tenant)
        assert sentinel.incidents.list_bookmarks(RESOURCE_GROUP, ws, made["id"]).value == []
        for operation in (
            sentinel.incidents.list_alerts,
            sentinel.incidents.list_entities,
            sentinel.incidents.list_bookmarks,
        ):
            with pytest.raises(ResourceNotFoundError):
                operation(RESOURCE_GROUP, ws, str(uuid.uuid4()))
