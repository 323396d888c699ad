"""Incidents over HTTP: manual creation, the queue (filters, sorts, paging), lookups, ETags."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    INCIDENT_SEED_FIELDS,
    assert_problem,
    create_incident,
    get_alert,
    get_incident,
    ingest,
    list_all,
    patch_incident,
    post_alerts,
    timeline,
    ts,
)
from tests.factories import TenantKeys, alert

LIST = "/api/v1/incidents"


class TestManualCreate:
    def test_create(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = {
            "description": "Phishing wave on finance",
            "details": "Reported by 3 users",
            "severity": 4,
            "tags": ["phishing", "finance"],
            "mitreTactic": "initial-access",
            "mitreTechnique": "t1566",
            "excludeFromSLA": True,
        }
        resp = client.post(LIST, json=body, headers=tenant.headers())
        assert resp.status_code == 201, resp.text
        made = resp.json()
        assert made["source"] == "manual"
        for name in ("description", "details", "severity", "tags", "excludeFromSLA"):
            assert made[name] == body[name], name
        assert made["mitreTactic"] == "Initial Access" and made["mitreTechnique"] == "T1566"
        assert made["status"] == "OPEN" and made["alerts"] == [] and made["alertCount"] == 0
        assert made["respondedAt"] is None and made["resolvedAt"] is None
        assert made["tenantId"] == str(tenant.id) and made["tenant"]["id"] == str(tenant.id)
        assert resp.headers["ETag"] == f'"{made["version"]}"'
        assert get_incident(client, tenant, made["id"]) == made
        events = timeline(client, tenant, made["id"])
        assert [e["action"] for e in events] == ["incident.created"]

    def test_create_with_alerts_moves_them(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        second = ingest(client, tenant)
        assert first["incidentId"] == second["incidentId"]
        made = create_incident(client, tenant, alertIds=[first["alertId"]], severity=1)
        assert [a["id"] for a in made["alerts"]] == [first["alertId"]]
        assert made["alertCount"] == 1
        assert made["severity"] == alert()["severity"]  # raised by the moved alert
        old = get_incident(client, tenant, first["incidentId"])
        assert [a["id"] for a in old["alerts"]] == [second["alertId"]]
        assert old["alertCount"] == 1
        assert get_alert(client, tenant, first["alertId"])["incidentId"] == made["id"]
        assert "alert.moved_out" in [e["action"] for e in timeline(client, tenant, old["id"])]
        assert "alert.moved_in" in [e["action"] for e in timeline(client, tenant, made["id"])]

    def test_create_with_assignee(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant, assignee=tenant.member_email.upper())
        assert made["assignee"] == tenant.member_email
        assert made["assigneeName"] == tenant.member_name
        assert made["respondedAt"] is not None

    def test_create_with_unknown_alert_leaves_nothing(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        resp = client.post(
            LIST,
            json={"description": "x", "alertIds": [str(uuid.uuid4())]},
            headers=tenant.headers(),
        )
        assert_problem(resp, 404, "alert.not_found")
        assert list_all(client, LIST, tenant.headers(Role.VIEWER)) == []

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"description": ""},
            {"description": "x", "severity": 0},
            {"description": "x", "severity": 5},
            {"description": "x", "source": "forged"},
            {"description": "x", "status": "RESOLVED"},
            {"description": "x", "mitreTactic": "Nope"},
            {"description": "x", "assignee": "nobody@example.test"},
        ],
    )
    def test_create_refuses(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any]
    ) -> None:
        resp = client.post(LIST, json=body, headers=tenant.headers())
        problem = assert_problem(resp, 400)
        named = {e["field"] for e in problem.get("errors", [])}
        assert named & ({*body} | {"description"}), problem
        assert list_all(client, LIST, tenant.headers(Role.VIEWER)) == []

    def test_numbers_are_sequential_per_tenant(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        answer = post_alerts(client, tenant, *[alert(hostname=f"n{i}") for i in range(3)])
        manual = create_incident(client, tenant)
        mine = [get_incident(client, tenant, i["incidentId"])["number"] for i in answer["items"]]
        assert sorted([*mine, manual["number"]]) == [1, 2, 3, 4]
        assert manual["number"] == 4
        theirs = create_incident(client, other_tenant)
        assert theirs["number"] == 1


def _seed_queue(client: httpx.Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    """A varied queue: statuses, severities, assignees, tags and sources; return details."""
    made = [
        create_incident(
            client,
            tenant,
            description="Phishing wave on Finance",
            severity=4,
            tags=["phishing", "finance"],
        ),
        create_incident(
            client,
            tenant,
            description="Ransomware note on file server",
            details="encrypted shares on FS01",
            severity=4,
            tags=["ransomware"],
        ),
        create_incident(
            client,
            tenant,
            description="Impossible travel",
            severity=2,
            tags=["identity"],
            assignee=tenant.member_email,
        ),
        create_incident(client, tenant, description="Port scan from guest wifi", severity=1),
        create_incident(
            client,
            tenant,
            description="Mailbox rule 100% forwarding",
            severity=3,
            tags=["phishing"],
        ),
    ]
    answer = post_alerts(
        client,
        tenant,
        alert(hostname="q1", severity=2),
        alert(hostname="q2", severity=3, source="CrowdStrike Falcon"),
    )
    ids = [m["id"] for m in made] + [i["incidentId"] for i in answer["items"]]
    assert (
        patch_incident(
            client, tenant, ids[1], status="UNDER_INVESTIGATION", assignee="SOAR"
        ).status_code
        == 200
    )
    assert (
        patch_incident(
            client, tenant, ids[3], status="RESOLVED", resolution="FALSE_POSITIVE"
        ).status_code
        == 200
    )
    assert (
        patch_incident(
            client, tenant, ids[5], assignee=tenant.member_email, status="UNDER_INVESTIGATION"
        ).status_code
        == 200
    )
    return [get_incident(client, tenant, i) for i in ids]


class TestQueue:
    def test_filters(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        queue = _seed_queue(client, tenant)
        _seed_queue(client, other_tenant)
        view = tenant.headers(Role.VIEWER)
        everything = list_all(client, LIST, view)
        assert sorted(i["id"] for i in everything) == sorted(i["id"] for i in queue)
        assert all("alerts" not in item for item in everything)
        by_id = {i["id"]: i for i in queue}
        for item in everything:
            assert item["alertCount"] == len(by_id[item["id"]]["alerts"])
        email = tenant.member_email
        third = ts(queue[2]["createdAt"])
        hash_ = queue[4]["incidentHash"]
        cases: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
            ({"status": "OPEN"}, lambda i: i["status"] == "OPEN"),
            ({"status": ["RESOLVED", "UNDER_INVESTIGATION"]}, lambda i: i["status"] != "OPEN"),
            ({"severity": 4}, lambda i: i["severity"] == 4),
            ({"severity": [1, 2]}, lambda i: i["severity"] in (1, 2)),
            ({"assignee": email}, lambda i: i["assignee"] == email),
            ({"assignee": email.upper()}, lambda i: i["assignee"] == email),
            ({"assignee": "unassigned"}, lambda i: i["assignee"] is None),
            ({"assignee": "SOAR"}, lambda i: i["assignee"] == "SOAR"),
            ({"tag": "phishing"}, lambda i: "phishing" in i["tags"]),
            ({"source": "manual"}, lambda i: i["source"] == "manual"),
            ({"source": "CrowdStrike Falcon"}, lambda i: i["source"] == "CrowdStrike Falcon"),
            ({"createdAfter": queue[2]["createdAt"]}, lambda i: ts(i["createdAt"]) >= third),
            ({"createdBefore": queue[2]["createdAt"]}, lambda i: ts(i["createdAt"]) < third),
            ({"q": "phishing"}, lambda i: "phishing" in (i["description"] + i["details"]).lower()),
            ({"q": "FS01"}, lambda i: "FS01" in i["details"]),
            ({"q": "100%"}, lambda i: "100%" in i["description"]),
            ({"q": f"#{queue[3]['number']}"}, lambda i: i["number"] == queue[3]["number"]),
            ({"q": hash_}, lambda i: i["incidentHash"] == hash_),
            ({"q": hash_.lower().replace("-", "")}, lambda i: i["incidentHash"] == hash_),
            (
                {"status": "UNDER_INVESTIGATION", "assignee": email},
                lambda i: i["status"] == "UNDER_INVESTIGATION" and i["assignee"] == email,
            ),
        ]
        for params, keep in cases:
            got = [i["id"] for i in list_all(client, LIST, view, **params)]
            want = {i["id"] for i in queue if keep(i)}
            assert 0 < len(want) < len(queue), params
            assert len(got) == len(set(got)), params
            assert set(got) == want, params

    @pytest.mark.parametrize("q", ["6294090811", "#99999999999999999999", "²", "#2147483647"])
    def test_a_number_no_incident_has_is_no_match(
        self, client: httpx.Client, tenant: TenantKeys, q: str
    ) -> None:
        create_incident(client, tenant, description="nothing numeric")
        resp = client.get(LIST, params={"q": q}, headers=tenant.headers(Role.VIEWER))
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"items": [], "nextCursor": None}

    def test_no_match_is_an_empty_page(self, client: httpx.Client, tenant: TenantKeys) -> None:
        create_incident(client, tenant)
        resp = client.get(
            LIST, params={"tag": "nothing-has-this"}, headers=tenant.headers(Role.VIEWER)
        )
        assert resp.status_code == 200 and resp.json() == {"items": [], "nextCursor": None}

    def test_sorts_and_paging(self, client: httpx.Client, tenant: TenantKeys) -> None:
        hosts = [f"p{i}" for i in range(6)]
        post_alerts(
            client, tenant, *[alert(hostname=h, severity=1 + i % 4) for i, h in enumerate(hosts)]
        )  # same createdAt
        for severity in (2, 4, 3):
            create_incident(client, tenant, severity=severity)
        view = tenant.headers(Role.VIEWER)
        for sort in (
            "createdAt",
            "-createdAt",
            "+createdAt",
            "-updatedAt",
            "+updatedAt",
            "severity",
            "-severity",
            "+severity",
            "number",
            "-number",
            "+number",
        ):
            whole = client.get(LIST, params={"sort": sort, "limit": 500}, headers=view).json()
            assert whole["nextCursor"] is None and len(whole["items"]) == 9
            name = sort.lstrip("+-")
            descending = not sort.startswith("+")

            def value(item: dict[str, Any], name: str = name) -> Any:
                return ts(item[name]) if name.endswith("At") else item[name]

            expected = sorted(
                whole["items"], key=lambda i: (value(i), uuid.UUID(i["id"])), reverse=descending
            )
            assert [i["id"] for i in whole["items"]] == [i["id"] for i in expected], sort
            for limit in (1, 2, 4):
                walked = list_all(client, LIST, view, sort=sort, limit=limit)
                assert [i["id"] for i in walked] == [i["id"] for i in expected], (sort, limit)

    def test_paging_with_a_filter(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = [create_incident(client, tenant, severity=1 + i % 2) for i in range(7)]
        walked = list_all(client, LIST, tenant.headers(Role.VIEWER), severity=2, limit=2)
        assert sorted(i["id"] for i in walked) == sorted(
            m["id"] for m in made if m["severity"] == 2
        )

    def test_last_page_has_no_cursor(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for _ in range(2):
            create_incident(client, tenant)
        view = tenant.headers(Role.VIEWER)
        page = client.get(LIST, params={"limit": 2}, headers=view).json()
        assert len(page["items"]) == 2 and page["nextCursor"] is None
        page = client.get(LIST, params={"limit": 1}, headers=view).json()
        assert page["nextCursor"] is not None
        rest = client.get(
            LIST, params={"limit": 1, "cursor": page["nextCursor"]}, headers=view
        ).json()
        assert len(rest["items"]) == 1 and rest["nextCursor"] is None
        assert rest["items"][0]["id"] != page["items"][0]["id"]

    def test_bad_cursor(self, client: httpx.Client, tenant: TenantKeys) -> None:
        create_incident(client, tenant)
        view = tenant.headers(Role.VIEWER)
        for cursor in ("garbage", "eyJ4IjoxfQ", "%%%", "W10", "WyJ4Il0", "W1tdLDEsMl0"):
            resp = client.get(LIST, params={"cursor": cursor, "limit": 1}, headers=view)
            assert_problem(resp, 400, field="cursor")
        resp = client.get(LIST, params={"cursor": "", "limit": 1}, headers=view)
        assert resp.status_code == 200  # an empty cursor is the first page

    def test_cursor_of_another_sort_is_refused(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        for _ in range(3):
            create_incident(client, tenant)
        view = tenant.headers(Role.VIEWER)
        cursor = client.get(LIST, params={"limit": 1, "sort": "-severity"}, headers=view).json()[
            "nextCursor"
        ]
        resp = client.get(
            LIST, params={"limit": 1, "sort": "-number", "cursor": cursor}, headers=view
        )
        assert_problem(resp, 400, field="cursor")

    def test_bad_parameters(self, client: httpx.Client, tenant: TenantKeys) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"sort": "priority"}, "sort"),
            ({"status": "CLOSED"}, "status"),
            ({"severity": 0}, "severity"),
            ({"severity": "high"}, "severity"),
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"createdAfter": "yesterday"}, "createdAfter"),
            ({"q": " "}, "q"),
            ({"q": "x" * 201}, "q"),
        ]
        for params, field in cases:
            resp = client.get(LIST, params=params, headers=tenant.headers(Role.VIEWER))
            assert_problem(resp, 400, field=field)

    def test_plus_sign_typed_unencoded(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = [create_incident(client, tenant, severity=s) for s in (3, 1, 2)]
        resp = client.get(f"{LIST}?sort=+severity", headers=tenant.headers(Role.VIEWER))
        assert resp.status_code == 200, resp.text
        assert [i["severity"] for i in resp.json()["items"]] == sorted(m["severity"] for m in made)


class TestLookups:
    def test_by_hash(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        hash_ = made["incidentHash"]
        assert len(hash_) == 9 and hash_[4] == "-" and hash_ == hash_.upper()
        view = tenant.headers(Role.VIEWER)
        for typed in (
            hash_,
            hash_.lower(),
            hash_.replace("-", ""),
            hash_.lower().replace("-", ""),
            f" {hash_} ",
        ):
            resp = client.get(f"{LIST}/by-hash/{typed}", headers=view)
            assert resp.status_code == 200, (typed, resp.text)
            assert resp.json()["id"] == made["id"]
            assert resp.headers["ETag"] == f'"{made["version"]}"'
        resp = client.get(f"{LIST}/by-hash/ZZZZ-ZZZZ", headers=view)
        assert_problem(resp, 404, "incident.not_found")

    def test_hashes_are_unique(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(client, tenant, *[alert(hostname=f"u{i}") for i in range(40)])
        hashes = {i["incidentHash"] for i in answer["items"]}
        assert len(hashes) == 40

    def test_detail_has_every_seed_field(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant)
        resp = client.get(f"{LIST}/{item['incidentId']}", headers=tenant.headers(Role.VIEWER))
        detail = resp.json()
        missing = INCIDENT_SEED_FIELDS - detail.keys()
        assert not missing, missing
        assert detail["number"] >= 1
        assert detail["soarStatus"] == "NOT_PROCESSED"
        assert detail["soarProcessId"] is None and detail["soarProcess"] is None
        assert detail["soarTimeout"] is None
        assert detail["assigneeName"] is None and detail["assignee"] is None
        assert detail["groupingAllowed"] is True and detail["excludeFromSLA"] is False
        assert detail["tenant"] == {"id": str(tenant.id), "name": tenant.name}
        assert [a["id"] for a in detail["alerts"]] == [item["alertId"]]
        assert ts(detail["createdAt"]) <= ts(detail["updatedAt"])
        assert detail["createdAt"].endswith(("Z", "+00:00"))
        listed = client.get(LIST, headers=tenant.headers(Role.VIEWER)).json()["items"][0]
        assert INCIDENT_SEED_FIELDS - {"alerts", "tenant", "soarProcess"} <= listed.keys()

    def test_unknown_incident(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get(f"{LIST}/{uuid.uuid4()}", headers=tenant.headers(Role.VIEWER))
        assert_problem(resp, 404, "incident.not_found")
        resp = client.get(f"{LIST}/not-a-uuid", headers=tenant.headers(Role.VIEWER))
        assert_problem(resp, 400, field="incident_id")


class TestETag:
    def test_if_match(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        url = f"{LIST}/{made['id']}"
        etag = client.get(url, headers=tenant.headers()).headers["ETag"]
        current = client.patch(
            url, json={"severity": 1}, headers={**tenant.headers(), "If-Match": etag}
        )
        assert current.status_code == 200, current.text
        new_etag = current.headers["ETag"]
        assert new_etag != etag and current.json()["severity"] == 1
        stale = client.patch(
            url, json={"severity": 4}, headers={**tenant.headers(), "If-Match": etag}
        )
        assert_problem(stale, 412, "incident.stale_version")
        assert get_incident(client, tenant, made["id"])["severity"] == 1
        weak = client.patch(
            url, json={"severity": 2}, headers={**tenant.headers(), "If-Match": f"W/{new_etag}"}
        )
        assert weak.status_code == 200
        assert client.get(url, headers=tenant.headers()).headers["ETag"] == weak.headers["ETag"]

    def test_grouping_changes_the_etag(self, client: httpx.Client, tenant: TenantKeys) -> None:
        first = ingest(client, tenant)
        url = f"{LIST}/{first['incidentId']}"
        etag = client.get(url, headers=tenant.headers()).headers["ETag"]
        ingest(client, tenant, severity=4)
        stale = client.patch(
            url, json={"severity": 1}, headers={**tenant.headers(), "If-Match": etag}
        )
        assert_problem(stale, 412, "incident.stale_version")
        assert get_incident(client, tenant, first["incidentId"])["severity"] == 4

    def test_without_if_match_and_with_star(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        url = f"{LIST}/{made['id']}"
        assert client.patch(url, json={"details": "a"}, headers=tenant.headers()).status_code == 200
        star = client.patch(
            url, json={"details": "b"}, headers={**tenant.headers(), "If-Match": "*"}
        )
        assert star.status_code == 200 and star.json()["details"] == "b"

    def test_garbage_if_match(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        resp = client.patch(
            f"{LIST}/{made['id']}",
            json={"details": "x"},
            headers={**tenant.headers(), "If-Match": '"abc"'},
        )
        assert_problem(resp, 400, field="If-Match")
