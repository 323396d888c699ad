"""The incident lifecycle over HTTP: transitions, stamps, assignees, timeline, comments,
merging and moving alerts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    create_incident,
    get_alert,
    get_incident,
    ingest,
    key_actor,
    patch_incident,
    post_alerts,
    timeline,
    ts,
)
from tests.factories import TenantKeys, alert


def ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def comment(
    client: httpx.Client, tenant: TenantKeys, incident_id: str, text: str, role: Role = Role.ANALYST
) -> httpx.Response:
    return client.post(
        f"/api/v1/incidents/{incident_id}/comments",
        json={"body": text},
        headers=tenant.headers(role),
    )


class TestResolution:
    def test_resolved_needs_a_resolution(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        resp = patch_incident(client, tenant, made["id"], status="RESOLVED")
        assert_problem(resp, 409, "incident.resolution_required", field="resolution")
        after = get_incident(client, tenant, made["id"])
        assert after["status"] == "OPEN" and after["version"] == made["version"]

    def test_resolution_without_resolving_is_refused(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        resp = patch_incident(client, tenant, made["id"], resolution="TRUE_POSITIVE")
        assert_problem(resp, 409, "incident.resolution_without_resolved", field="resolution")

    def test_a_resolution_reason_is_kept_and_a_foreign_one_refused(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        wrong = patch_incident(
            client,
            tenant,
            made["id"],
            status="RESOLVED",
            resolution="TRUE_POSITIVE",
            resolutionReason="NotMalicious",
        )
        assert_problem(wrong, 400, "incident.reason_not_allowed", field="resolutionReason")
        assert get_incident(client, tenant, made["id"])["status"] == "OPEN"
        closed = ok(
            patch_incident(
                client,
                tenant,
                made["id"],
                status="RESOLVED",
                resolution="UNDETERMINED",
                resolutionReason="inaccuratedata",
            )
        )
        assert closed["resolutionReason"] == "InaccurateData"
        reopened = ok(patch_incident(client, tenant, made["id"], status="OPEN"))
        assert reopened["resolution"] is None and reopened["resolutionReason"] is None

    def test_resolve_stamps_resolved_at(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for resolution in (
            "TRUE_POSITIVE",
            "BENIGN_POSITIVE",
            "FALSE_POSITIVE",
            "UNDETERMINED",
            "DUPLICATE",
        ):
            made = create_incident(client, tenant)
            done = ok(
                patch_incident(
                    client,
                    tenant,
                    made["id"],
                    status="RESOLVED",
                    resolution=resolution,
                    resolutionComment="checked",
                )
            )
            assert done["status"] == "RESOLVED" and done["resolution"] == resolution
            assert done["resolutionComment"] == "checked"
            assert done["resolvedAt"] is not None and done["resolvedAt"] == done["updatedAt"]
            assert ts(done["resolvedAt"]) >= ts(made["createdAt"])

    def test_unknown_resolution(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        resp = patch_incident(client, tenant, made["id"], status="RESOLVED", resolution="FIXED")
        assert_problem(resp, 400, field="resolution")

    def test_reopen_clears_the_verdict(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        done = ok(
            patch_incident(
                client,
                tenant,
                made["id"],
                status="RESOLVED",
                resolution="FALSE_POSITIVE",
                resolutionComment="noise",
            )
        )
        for status in ("UNDER_INVESTIGATION", "OPEN"):
            reopened = ok(patch_incident(client, tenant, made["id"], status=status))
            assert reopened["status"] == status
            assert reopened["resolution"] is None and reopened["resolutionComment"] is None
            assert reopened["resolvedAt"] is None
            ok(
                patch_incident(
                    client, tenant, made["id"], status="RESOLVED", resolution="TRUE_POSITIVE"
                )
            )
        again = get_incident(client, tenant, made["id"])
        assert ts(again["resolvedAt"]) > ts(done["resolvedAt"])
        reopen_events = [
            e for e in timeline(client, tenant, made["id"]) if e["action"] == "incident.reopened"
        ]
        assert len(reopen_events) == 2
        first = reopen_events[0]["changes"]
        assert first["status"] == ["RESOLVED", "UNDER_INVESTIGATION"]
        assert first["resolution"] == ["FALSE_POSITIVE", None]
        assert first["resolvedAt"][0] is not None and first["resolvedAt"][1] is None

    def test_reopen_with_a_resolution_is_refused(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        ok(
            patch_incident(
                client, tenant, made["id"], status="RESOLVED", resolution="TRUE_POSITIVE"
            )
        )
        resp = patch_incident(
            client, tenant, made["id"], status="OPEN", resolution="FALSE_POSITIVE"
        )
        problem = assert_problem(resp, 409)
        assert problem["code"].startswith("incident.")
        assert get_incident(client, tenant, made["id"])["status"] == "RESOLVED"

    def test_changing_the_resolution_of_a_resolved_incident(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        done = ok(
            patch_incident(client, tenant, made["id"], status="RESOLVED", resolution="UNDETERMINED")
        )
        changed = ok(patch_incident(client, tenant, made["id"], resolution="TRUE_POSITIVE"))
        assert changed["resolution"] == "TRUE_POSITIVE"
        assert changed["resolvedAt"] == done["resolvedAt"]

    def test_refused_changes(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"status": "CLOSED"}, "status"),
            ({"status": None}, "status"),
            ({"severity": 0}, "severity"),
            ({"severity": None}, "severity"),
            ({"description": None}, "description"),
            ({"description": ""}, "description"),
            ({"tags": "phishing"}, "tags"),
            ({"groupingAllowed": "maybe"}, "groupingAllowed"),
            ({"respondedAt": "2024-01-01T00:00:00Z"}, "respondedAt"),
            ({"resolvedAt": "2024-01-01T00:00:00Z"}, "resolvedAt"),
            ({"assigneeName": "Someone"}, "assigneeName"),
            ({"number": 7}, "number"),
            ({"incidentHash": "AAAA-AAAA"}, "incidentHash"),
            ({"source": "forged"}, "source"),
            ({"excludeFromSLA": None}, "excludeFromSLA"),
            ({"tags": None}, "tags"),
            ({"groupingAllowed": None}, "groupingAllowed"),
        ]
        for fields, name in cases:
            resp = patch_incident(client, tenant, made["id"], **fields)
            assert_problem(resp, 400, field=name)
        assert get_incident(client, tenant, made["id"]) == made
        assert len(timeline(client, tenant, made["id"])) == 1

    def test_viewer_cannot_change(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        resp = client.patch(
            f"/api/v1/incidents/{made['id']}",
            json={"severity": 1},
            headers=tenant.headers(Role.VIEWER),
        )
        assert_problem(resp, 403, "auth.role_required")
        resp = comment(client, tenant, made["id"], "hello", Role.VIEWER)
        assert_problem(resp, 403, "auth.role_required")
        assert get_incident(client, tenant, made["id"]) == made


class TestAssignee:
    def test_assignee_name_follows(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        mine = ok(patch_incident(client, tenant, made["id"], assignee=tenant.member_email))
        assert mine["assignee"] == tenant.member_email
        assert mine["assigneeName"] == tenant.member_name
        soar = ok(patch_incident(client, tenant, made["id"], assignee="SOAR"))
        assert soar["assignee"] == "SOAR" and soar["assigneeName"] == "SOAR"
        nobody = ok(patch_incident(client, tenant, made["id"], assignee=None))
        assert nobody["assignee"] is None and nobody["assigneeName"] is None

    def test_assignee_must_be_a_member(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        for stranger in ("nobody@example.test", other_tenant.member_email, "soar", ""):
            resp = patch_incident(client, tenant, made["id"], assignee=stranger)
            assert_problem(resp, 400, field="assignee")
        assert get_incident(client, tenant, made["id"]) == made

    def test_new_member_can_be_assigned(self, client: httpx.Client, tenant: TenantKeys) -> None:
        email = f"new-{uuid.uuid4().hex[:6]}@example.test"
        resp = client.post(
            "/api/v1/users",
            json={"email": email, "name": "Nia Newcomer"},
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert resp.status_code == 201, resp.text
        made = create_incident(client, tenant)
        done = ok(patch_incident(client, tenant, made["id"], assignee=email))
        assert done["assigneeName"] == "Nia Newcomer"
        user_id = resp.json()["id"]
        client.delete(f"/api/v1/users/{user_id}", headers=tenant.headers(Role.TENANT_ADMIN))
        other = create_incident(client, tenant)
        assert_problem(
            patch_incident(client, tenant, other["id"], assignee=email), 400, field="assignee"
        )


class TestRespondedAt:
    def test_first_move_out_of_open(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        assert made["respondedAt"] is None
        soar = ok(
            patch_incident(client, tenant, made["id"], assignee="SOAR", severity=1, tags=["x"])
        )
        assert soar["respondedAt"] is None  # SOAR and field edits are no response
        moved = ok(patch_incident(client, tenant, made["id"], status="UNDER_INVESTIGATION"))
        assert moved["respondedAt"] == moved["updatedAt"]
        later = ok(patch_incident(client, tenant, made["id"], assignee=tenant.member_email))
        ok(patch_incident(client, tenant, made["id"], status="OPEN"))
        ok(patch_incident(client, tenant, made["id"], status="UNDER_INVESTIGATION"))
        assert comment(client, tenant, made["id"], "note").status_code == 201
        final = get_incident(client, tenant, made["id"])
        assert later["respondedAt"] == final["respondedAt"] == moved["respondedAt"]
        responded = [
            e for e in timeline(client, tenant, made["id"]) if "respondedAt" in e["changes"]
        ]
        assert len(responded) == 1

    def test_first_assignment_to_a_person(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        done = ok(patch_incident(client, tenant, made["id"], assignee=tenant.member_email))
        assert done["status"] == "OPEN"
        assert done["respondedAt"] == done["updatedAt"]
        ok(patch_incident(client, tenant, made["id"], assignee=None))
        ok(patch_incident(client, tenant, made["id"], assignee=tenant.member_email))
        assert get_incident(client, tenant, made["id"])["respondedAt"] == done["respondedAt"]

    def test_first_comment(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        first = comment(client, tenant, made["id"], "looking at it")
        assert first.status_code == 201, first.text
        stamped = get_incident(client, tenant, made["id"])["respondedAt"]
        assert stamped == first.json()["createdAt"]
        assert comment(client, tenant, made["id"], "still looking").status_code == 201
        ok(patch_incident(client, tenant, made["id"], status="UNDER_INVESTIGATION"))
        assert get_incident(client, tenant, made["id"])["respondedAt"] == stamped

    def test_ingest_is_no_response(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        ingest(client, tenant, severity=4)
        assert get_incident(client, tenant, first["incidentId"])["respondedAt"] is None


class TestTimelineAndComments:
    def test_each_change_is_recorded(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant, severity=2)
        actor = key_actor(client, tenant)
        steps: list[dict[str, Any]] = [
            {"severity": 4},
            {"description": "renamed"},
            {"tags": ["a", "b"]},
            {"assignee": tenant.member_email},
            {"status": "UNDER_INVESTIGATION"},
            {"excludeFromSLA": True},
            {"groupingAllowed": True},
            {"status": "RESOLVED", "resolution": "TRUE_POSITIVE"},
        ]
        before = made
        for step in steps:
            after = ok(patch_incident(client, tenant, made["id"], **step))
            events = timeline(client, tenant, made["id"])
            last = events[-1]
            assert last["actor"] == actor and last["actorType"] == "apikey"
            for name, value in step.items():
                assert last["changes"][name] == [before[name], value], (name, last)
            before = after
        events = timeline(client, tenant, made["id"])
        assert [e["action"] for e in events][-1] == "incident.resolved"
        stamps = [ts(e["createdAt"]) for e in events]
        assert stamps == sorted(stamps)
        assigned = [e for e in events if e["action"] == "incident.assigned"]
        assert assigned[0]["changes"]["assigneeName"] == [None, tenant.member_name]

    def test_a_no_op_patch_records_nothing(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant, severity=2)
        same = ok(patch_incident(client, tenant, made["id"], severity=2))
        assert same["version"] == made["version"]
        assert len(timeline(client, tenant, made["id"])) == 1

    def test_comments(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        texts = ["first look", "escalating to IR", "ünïcödé ✓"]
        posted = []
        for text in texts:
            resp = comment(client, tenant, made["id"], text)
            assert resp.status_code == 201, resp.text
            posted.append(resp.json())
        assert [c["body"] for c in posted] == texts
        assert {c["authorType"] for c in posted} == {"apikey"}
        assert {c["author"] for c in posted} == {key_actor(client, tenant)}
        listed = client.get(
            f"/api/v1/incidents/{made['id']}/comments", headers=tenant.headers(Role.VIEWER)
        )
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()] == [c["id"] for c in posted]
        added = [e for e in timeline(client, tenant, made["id"]) if e["action"] == "comment.added"]
        assert [e["changes"]["commentId"] for e in added] == [c["id"] for c in posted]

    @pytest.mark.parametrize(
        "body",
        [
            {"body": ""},
            {},
            {"body": 5},
            {"body": "a\u0000b"},
            {"body": "x" * 70_000},
            {"body": "x", "author": "me"},
        ],
    )
    def test_bad_comments(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any]
    ) -> None:
        made = create_incident(client, tenant)
        resp = client.post(
            f"/api/v1/incidents/{made['id']}/comments", json=body, headers=tenant.headers()
        )
        assert_problem(resp, 400)
        listed = client.get(f"/api/v1/incidents/{made['id']}/comments", headers=tenant.headers())
        assert listed.json() == []
        assert get_incident(client, tenant, made["id"])["respondedAt"] is None

    def test_comment_on_unknown_incident(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = comment(client, tenant, str(uuid.uuid4()), "hello")
        assert_problem(resp, 404, "incident.not_found")
        resp = client.get(f"/api/v1/incidents/{uuid.uuid4()}/timeline", headers=tenant.headers())
        assert_problem(resp, 404, "incident.not_found")


class TestMerge:
    def test_merge(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(
            client,
            tenant,
            alert(hostname="a", severity=2),
            alert(hostname="a", severity=2),
            alert(hostname="b", severity=4),
            alert(hostname="c", severity=1),
        )
        target_id, _, b_id, c_id = (i["incidentId"] for i in answer["items"])
        assert len({target_id, b_id, c_id}) == 3
        target = get_incident(client, tenant, target_id)
        resp = client.post(
            f"/api/v1/incidents/{target_id}/merge",
            json={"incidentIds": [b_id, c_id]},
            headers=tenant.headers(),
        )
        merged = ok(resp)
        assert resp.headers["ETag"] == f'"{merged["version"]}"'
        assert sorted(a["id"] for a in merged["alerts"]) == sorted(
            i["alertId"] for i in answer["items"]
        )
        assert merged["alertCount"] == 4
        assert merged["severity"] == 4
        assert merged["status"] == "OPEN"
        for other_id in (b_id, c_id):
            other = get_incident(client, tenant, other_id)
            assert other["status"] == "RESOLVED" and other["resolution"] == "DUPLICATE"
            assert other["alerts"] == [] and other["alertCount"] == 0
            assert other["groupingAllowed"] is False
            assert other["resolvedAt"] is not None
            assert f"#{target['number']}" in (other["resolutionComment"] or "")
            actions = [e["action"] for e in timeline(client, tenant, other_id)]
            assert "incident.resolved" in actions
        for item in answer["items"]:
            assert get_alert(client, tenant, item["alertId"])["incidentId"] == target_id
        events = [
            e for e in timeline(client, tenant, target_id) if e["action"] == "incident.merged"
        ]
        assert len(events) == 1
        numbers = {get_incident(client, tenant, i)["number"] for i in (b_id, c_id)}
        assert set(events[0]["changes"]["merged"]) == {f"#{n}" for n in numbers}
        later = ingest(client, tenant, hostname="b")
        assert later["incidentId"] != b_id  # a merged incident takes no new alerts

    def test_merge_refusals(self, client: httpx.Client, tenant: TenantKeys) -> None:
        one, two = create_incident(client, tenant), create_incident(client, tenant)
        url = f"/api/v1/incidents/{one['id']}/merge"
        assert_problem(
            client.post(url, json={"incidentIds": [one["id"]]}, headers=tenant.headers()),
            400,
            field="incidentIds",
        )
        assert_problem(
            client.post(url, json={"incidentIds": []}, headers=tenant.headers()),
            400,
            field="incidentIds",
        )
        assert_problem(
            client.post(
                url, json={"incidentIds": [two["id"], str(uuid.uuid4())]}, headers=tenant.headers()
            ),
            404,
            "incident.not_found",
        )
        assert get_incident(client, tenant, two["id"]) == two  # nothing half-done
        ok(patch_incident(client, tenant, one["id"], status="RESOLVED", resolution="TRUE_POSITIVE"))
        assert_problem(
            client.post(url, json={"incidentIds": [two["id"]]}, headers=tenant.headers()), 409
        )
        assert get_incident(client, tenant, two["id"]) == two
        resp = client.post(
            f"/api/v1/incidents/{two['id']}/merge",
            json={"incidentIds": [one["id"]]},
            headers=tenant.headers(Role.VIEWER),
        )
        assert_problem(resp, 403)


class TestMove:
    def test_move_alert(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant, severity=2)
        second = ingest(client, tenant, severity=4)
        target = create_incident(client, tenant, severity=1)
        resp = client.post(
            f"/api/v1/alerts/{second['alertId']}/move",
            json={"incidentId": target["id"]},
            headers=tenant.headers(),
        )
        moved = ok(resp)
        assert moved["id"] == second["alertId"] and moved["incidentId"] == target["id"]
        assert moved["groupingReason"]["decision"] == "moved"
        source = get_incident(client, tenant, first["incidentId"])
        assert [a["id"] for a in source["alerts"]] == [first["alertId"]]
        assert source["alertCount"] == 1
        dest = get_incident(client, tenant, target["id"])
        assert [a["id"] for a in dest["alerts"]] == [second["alertId"]]
        assert dest["alertCount"] == 1 and dest["severity"] == 4
        out = [
            e for e in timeline(client, tenant, source["id"]) if e["action"] == "alert.moved_out"
        ]
        into = [
            e for e in timeline(client, tenant, target["id"]) if e["action"] == "alert.moved_in"
        ]
        assert out[0]["changes"] == {"alertId": second["alertId"], "to": f"#{dest['number']}"}
        assert into[0]["changes"] == {"alertId": second["alertId"], "from": f"#{source['number']}"}
        assert out[0]["actor"] == into[0]["actor"] == key_actor(client, tenant)

    def test_move_to_the_same_incident_changes_nothing(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        item = ingest(client, tenant)
        before = get_incident(client, tenant, item["incidentId"])
        resp = client.post(
            f"/api/v1/alerts/{item['alertId']}/move",
            json={"incidentId": item["incidentId"]},
            headers=tenant.headers(),
        )
        assert ok(resp)["incidentId"] == item["incidentId"]
        assert get_incident(client, tenant, item["incidentId"]) == before

    def test_move_refusals(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant)
        url = f"/api/v1/alerts/{item['alertId']}/move"
        assert_problem(
            client.post(url, json={"incidentId": str(uuid.uuid4())}, headers=tenant.headers()),
            404,
            "incident.not_found",
        )
        assert_problem(
            client.post(url, json={"incidentId": "nope"}, headers=tenant.headers()),
            400,
            field="incidentId",
        )
        assert_problem(client.post(url, json={}, headers=tenant.headers()), 400, field="incidentId")
        target = create_incident(client, tenant)
        assert_problem(
            client.post(
                url, json={"incidentId": target["id"]}, headers=tenant.headers(Role.VIEWER)
            ),
            403,
        )
        assert_problem(
            client.post(
                f"/api/v1/alerts/{uuid.uuid4()}/move",
                json={"incidentId": target["id"]},
                headers=tenant.headers(),
            ),
            404,
            "alert.not_found",
        )
        assert get_alert(client, tenant, item["alertId"])["incidentId"] == item["incidentId"]
