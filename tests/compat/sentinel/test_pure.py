"""Pure parts of the Sentinel facade: ARM ids, CloudError rendering, owners and verdicts."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest

from muster.api.problems import ErrorInfo
from muster.compat.sentinel.arm import Workspace, parse_resource_id
from muster.compat.sentinel.errors import cloud_error_body, render_cloud_error
from muster.compat.sentinel.resources import incident_resource, owner_of
from muster.compat.sentinel.schemas import IncidentPropertiesIn
from muster.compat.sentinel.service import etag_version, verdict_changes
from muster.compat.views import IncidentView
from muster.errors import InvalidInput

WS = Workspace("sub-1", "rg-1", str(uuid.uuid4()))
AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
VIEW = IncidentView(
    id=uuid.uuid4(),
    tenant_id=uuid.UUID(WS.name),
    tenant_name="acme",
    number=42,
    title="Suspicious PowerShell",
    description="details",
    severity=4,
    status="RESOLVED",
    resolution="TRUE_POSITIVE",
    resolution_reason="Malware",
    resolution_comment="cleaned",
    assignee="ana@corp.example",
    assignee_name="Ana Lyst",
    assignee_user_id=uuid.uuid4(),
    tags=["vip"],
    created_at=AT,
    updated_at=AT,
    first_activity_at=AT,
    last_activity_at=AT,
    alerts_count=2,
    version=7,
    source="Defender",
    tactics=["Lateral Movement", "Command and Control"],
)


class TestArm:
    def test_ids_echo_the_scope(self) -> None:
        assert WS.incident_id("i").startswith("/subscriptions/sub-1/resourceGroups/rg-1/")
        assert WS.comment_id("i", "c").endswith(
            f"/workspaces/{WS.name}/providers/Microsoft.SecurityInsights/incidents/i/comments/c"
        )

    @pytest.mark.parametrize(
        ("resource_id", "name", "type_", "kind"),
        [
            (WS.prefix + "/bookmarks/b1", "b1", "Microsoft.SecurityInsights/bookmarks", None),
            (
                WS.prefix + "/Entities/e1",
                "e1",
                "Microsoft.SecurityInsights/Entities",
                "SecurityAlert",
            ),
            (
                WS.incident_id("i") + "/comments/c",
                "c",
                "Microsoft.SecurityInsights/incidents/comments",
                None,
            ),
            (
                "/subscriptions/s/resourceGroups/rg",
                "rg",
                "Microsoft.Resources/subscriptions/resourceGroups",
                None,
            ),
        ],
    )
    def test_parse_resource_id(
        self, resource_id: str, name: str, type_: str, kind: str | None
    ) -> None:
        ref = parse_resource_id(resource_id)
        assert (ref.name, ref.type, ref.kind) == (name, type_, kind)

    @pytest.mark.parametrize(
        "bad",
        ["", "bookmarks/b1", "/subscriptions", "/subscriptions/s/providers", "/subscriptions/s/x"],
    )
    def test_parse_refuses_what_is_not_an_arm_id(self, bad: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            parse_resource_id(bad)
        assert caught.value.errors[0]["field"] == "relatedResourceId"


class TestCloudError:
    def test_codes_by_status_and_field_details(self) -> None:
        info = ErrorInfo(
            400,
            "Invalid input",
            "x: bad",
            "validation_failed",
            "/p",
            [{"field": "x", "message": "bad"}],
        )
        assert cloud_error_body(info) == {
            "error": {
                "code": "BadRequest",
                "message": "x: bad",
                "details": [{"code": "validation_failed", "target": "x", "message": "bad"}],
            }
        }
        assert cloud_error_body(replace(info, status=404, errors=[]))["error"]["code"] == "NotFound"
        named = replace(info, code="MissingApiVersionParameter")
        assert cloud_error_body(named)["error"]["code"] == "MissingApiVersionParameter"

    def test_a_stale_version_is_a_409_conflict(self) -> None:
        info = ErrorInfo(
            412, "Precondition failed", "old", "incident.stale_version", "/x/incidents/1"
        )
        response = render_cloud_error(info)
        assert response.status_code == 409
        body = orjson.loads(response.body)
        assert body["error"]["code"] == "Conflict"
        assert body["error"]["message"].startswith("Newer version of resource '/x/incidents/1'")

    def test_401_asks_for_a_bearer_token(self) -> None:
        info = ErrorInfo(401, "Unauthenticated", "no key", "auth.unauthenticated", "/x")
        response = render_cloud_error(info)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert orjson.loads(response.body)["error"]["code"] == "AuthenticationFailed"


class TestRendering:
    def test_incident_properties_map_muster_values(self) -> None:
        props = incident_resource(WS, VIEW, "https://muster.example/")["properties"]
        assert (props["severity"], props["status"]) == ("High", "Closed")
        assert (props["classification"], props["classificationReason"]) == (
            "TruePositive",
            "SuspiciousActivity",  # Sentinel's reason for any TruePositive verdict
        )
        assert props["additionalData"]["tactics"] == ["LateralMovement", "CommandAndControl"]
        assert props["incidentUrl"] == f"https://muster.example/api/v1/incidents/{VIEW.id}"
        assert props["providerIncidentId"] == "42"

    def test_owners(self) -> None:
        person = owner_of(VIEW)
        assert person["objectId"] == str(VIEW.assignee_user_id)
        assert (person["email"], person["assignedTo"], person["ownerType"]) == (
            "ana@corp.example",
            "Ana Lyst",
            "User",
        )
        soar = owner_of(replace(VIEW, assignee="SOAR", assignee_name="SOAR", assignee_user_id=None))
        assert (soar["assignedTo"], soar["objectId"], soar["ownerType"]) == (
            "SOAR",
            None,
            "Unknown",
        )
        nobody = owner_of(replace(VIEW, assignee=None, assignee_name=None, assignee_user_id=None))
        assert set(nobody.values()) == {None, "Unknown"}


class TestVerdicts:
    def test_putting_back_what_was_read_keeps_the_finer_reason(self) -> None:
        props = IncidentPropertiesIn(
            status="Closed",
            classification="TruePositive",
            classification_reason="SuspiciousActivity",
        )
        assert verdict_changes(VIEW, props) == {}

    def test_a_new_verdict_replaces_the_old(self) -> None:
        props = IncidentPropertiesIn(
            status="Closed", classification="Undetermined", classification_reason="InaccurateData"
        )
        assert verdict_changes(VIEW, props) == {
            "resolution": "UNDETERMINED",
            "resolution_reason": "InaccurateData",
        }

    def test_closing_needs_a_classification(self) -> None:
        open_view = replace(VIEW, status="OPEN", resolution=None, resolution_reason=None)
        with pytest.raises(InvalidInput) as caught:
            verdict_changes(open_view, IncidentPropertiesIn(status="Closed"))
        assert caught.value.errors[0]["field"] == "properties.classification"

    @pytest.mark.parametrize(
        ("etag", "version"), [('"7"', 7), ('W/"7"', 7), ("7", 7), ("*", None), (None, None)]
    )
    def test_etags(self, etag: str | None, version: int | None) -> None:
        assert etag_version(etag) == version

    def test_a_foreign_etag_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            etag_version('"0300bf09-0000-0000-0000-5c37296e0000"')
