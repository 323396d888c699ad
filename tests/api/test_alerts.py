"""Alert ingestion over HTTP: answers, idempotency, raw payloads, MITRE normalisation, reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    get_alert,
    get_incident,
    ingest,
    list_all,
    post_alerts,
    ts,
)
from tests.factories import TenantKeys, alert


class TestIngestAnswer:
    def test_single_object_answers_one_item(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(client, tenant, alert(), batch=False)
        (item,) = answer["items"]
        assert set(item) == {"alertId", "incidentId", "incidentHash", "duplicate", "groupingReason"}
        assert item["duplicate"] is False
        assert answer["alerts"] == 1 and answer["duplicates"] == 0
        assert answer["incidentsCreated"] == 1
        incident = get_incident(client, tenant, item["incidentId"])
        assert incident["incidentHash"] == item["incidentHash"]
        assert [a["id"] for a in incident["alerts"]] == [item["alertId"]]
        assert get_alert(client, tenant, item["alertId"])["incidentId"] == item["incidentId"]

    def test_batch_answers_each_alert_in_order(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        hosts = [f"host-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
        bodies = [alert(hostname=h, username=None, srcIp=None) for h in hosts]
        answer = post_alerts(client, tenant, *bodies)
        assert answer["alerts"] == len(hosts)
        assert answer["incidentsCreated"] == len(hosts)
        assert len({i["alertId"] for i in answer["items"]}) == len(hosts)
        assert len({i["incidentId"] for i in answer["items"]}) == len(hosts)
        for host, body, item in zip(hosts, bodies, answer["items"], strict=True):
            stored = get_alert(client, tenant, item["alertId"])
            assert stored["hostname"] == host
            assert stored["externalId"] == body["externalId"]
            assert stored["incidentId"] == item["incidentId"]
            assert item["groupingReason"]["key"]["hostname"] == host
            assert (
                get_incident(client, tenant, item["incidentId"])["incidentHash"]
                == item["incidentHash"]
            )

    def test_batch_of_one_is_a_batch(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(client, tenant, alert(), batch=True)
        assert answer["alerts"] == 1

    def test_viewer_cannot_ingest(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.post("/api/v1/alerts", json=alert(), headers=tenant.headers(Role.VIEWER))
        assert_problem(resp, 403, "auth.role_required")
        assert list_all(client, "/api/v1/alerts", tenant.headers(Role.VIEWER)) == []


class TestIdempotency:
    def test_resend_by_external_id(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert()
        first = ingest(client, tenant, **body)
        before = get_alert(client, tenant, first["alertId"])
        assert before["occurrences"] == 1
        again = post_alerts(client, tenant, body)
        item = again["items"][0]
        assert item["duplicate"] is True
        assert again["duplicates"] == 1 and again["incidentsCreated"] == 0
        assert (item["alertId"], item["incidentId"], item["incidentHash"]) == (
            first["alertId"],
            first["incidentId"],
            first["incidentHash"],
        )
        after = get_alert(client, tenant, first["alertId"])
        assert after["occurrences"] == 2
        assert ts(after["lastSeenAt"]) > ts(before["lastSeenAt"])
        assert after["createdAt"] == before["createdAt"]
        incident = get_incident(client, tenant, first["incidentId"])
        assert len(incident["alerts"]) == 1 and incident["alertCount"] == 1

    def test_same_external_id_with_other_content_is_the_same_alert(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert()
        first = ingest(client, tenant, **body)
        changed = ingest(client, tenant, **{**body, "severity": 1, "hostname": "elsewhere"})
        assert changed["duplicate"] is True and changed["alertId"] == first["alertId"]
        stored = get_alert(client, tenant, first["alertId"])
        assert stored["hostname"] == body["hostname"] and stored["occurrences"] == 2

    def test_external_id_is_per_source(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert()
        first = ingest(client, tenant, **body)
        other = ingest(client, tenant, **{**body, "source": "CrowdStrike Falcon"})
        assert other["duplicate"] is False and other["alertId"] != first["alertId"]

    def test_external_id_is_per_tenant(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        body = alert()
        first = ingest(client, tenant, **body)
        theirs = ingest(client, other_tenant, **body)
        assert theirs["duplicate"] is False and theirs["alertId"] != first["alertId"]
        assert get_alert(client, tenant, first["alertId"])["occurrences"] == 1

    def test_fingerprint_without_external_id(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert()
        del body["externalId"]
        first = post_alerts(client, tenant, body)["items"][0]
        reordered = dict(reversed(list(body.items())))
        again = post_alerts(client, tenant, reordered)["items"][0]
        assert again["duplicate"] is True and again["alertId"] == first["alertId"]
        assert get_alert(client, tenant, first["alertId"])["occurrences"] == 2
        different = post_alerts(client, tenant, {**body, "description": "another event"})
        different = different["items"][0]
        assert different["duplicate"] is False and different["alertId"] != first["alertId"]

    def test_duplicates_inside_one_batch(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert()
        other = alert(hostname="other-host")
        answer = post_alerts(client, tenant, body, other, body, body)
        items = answer["items"]
        assert [i["duplicate"] for i in items] == [False, False, True, True]
        assert answer["duplicates"] == 2 and answer["alerts"] == 4
        for dup in items[2:]:
            assert (dup["alertId"], dup["incidentId"], dup["incidentHash"]) == (
                items[0]["alertId"],
                items[0]["incidentId"],
                items[0]["incidentHash"],
            )
            assert dup["groupingReason"] == items[0]["groupingReason"]
        assert get_alert(client, tenant, items[0]["alertId"])["occurrences"] == 3
        stored = list_all(client, "/api/v1/alerts", tenant.headers(Role.VIEWER))
        assert sorted(a["id"] for a in stored) == sorted({items[0]["alertId"], items[1]["alertId"]})

    def test_batch_mixing_stored_and_new(self, client: httpx.Client, tenant: TenantKeys) -> None:
        old = alert()
        first = ingest(client, tenant, **old)
        new = alert()
        answer = post_alerts(client, tenant, new, old)
        assert [i["duplicate"] for i in answer["items"]] == [False, True]
        assert answer["items"][1]["alertId"] == first["alertId"]
        assert answer["items"][0]["incidentId"] == first["incidentId"]  # same rule+host


class TestRawPayload:
    def test_unknown_fields_are_kept_verbatim(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert(
            vendorBlob={
                "process": {"name": "cmd.exe", "pid": 4242, "args": ["/c", "whoami"]},
                "score": 0.875,
                "flags": [True, False, None],
            },
            **{"Weird Key-with spaces": "ü€𝄞", "emptyObject": {}, "emptyList": []},
        )
        item = ingest(client, tenant, **body)
        stored = get_alert(client, tenant, item["alertId"])
        assert stored["raw"] == body
        assert list(stored["raw"]) == list(body)  # key order as sent
        assert "vendorBlob" not in stored  # unknown fields live in raw only

    def test_raw_keeps_the_spelling_the_sender_used(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = alert(
            mitreTactic="lateral-movement", mitreTechnique="t1059/001", hostname="  padded-host  "
        )
        stored = get_alert(client, tenant, ingest(client, tenant, **body)["alertId"])
        assert stored["raw"] == body
        assert stored["mitreTactic"] == "Lateral Movement"
        assert stored["hostname"] == "padded-host"

    def test_lists_never_carry_raw(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant, vendorBlob={"x": 1})
        listed = list_all(client, "/api/v1/alerts", tenant.headers(Role.VIEWER))
        assert [a["id"] for a in listed] == [item["alertId"]]
        assert "raw" not in listed[0]
        incident = get_incident(client, tenant, item["incidentId"])
        assert all("raw" not in a for a in incident["alerts"])
        assert "raw" in get_alert(client, tenant, item["alertId"])

    def test_huge_integers_in_raw(self, client: httpx.Client, tenant: TenantKeys) -> None:
        item = ingest(client, tenant, eventRecord=2**70 + 1)
        assert get_alert(client, tenant, item["alertId"])["raw"]["eventRecord"] == 2**70 + 1


class TestMitre:
    def test_tactic_spellings(self, client: httpx.Client, tenant: TenantKeys) -> None:
        spellings = [
            "Lateral Movement",
            "LateralMovement",
            "TA0008",
            "lateral-movement",
            "lateral movement",
            "ta0008",
            "lateral_movement",
        ]
        for n, spelling in enumerate(spellings):
            item = ingest(client, tenant, mitreTactic=spelling, hostname=f"t{n}")
            assert (
                get_alert(client, tenant, item["alertId"])["mitreTactic"] == "Lateral Movement"
            ), spelling
            assert (
                get_incident(client, tenant, item["incidentId"])["mitreTactic"]
                == "Lateral Movement"
            ), spelling

    def test_technique_spellings(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for n, spelling in enumerate(["T1059.001", "t1059/001", "t1059.001", "T1059/001"]):
            item = ingest(client, tenant, mitreTechnique=spelling, hostname=f"t{n}")
            assert get_alert(client, tenant, item["alertId"])["mitreTechnique"] == "T1059.001", (
                spelling
            )
            assert (
                get_incident(client, tenant, item["incidentId"])["mitreTechnique"] == "T1059.001"
            ), spelling
        item = ingest(client, tenant, mitreTechnique="t1021", hostname="parent")
        assert get_alert(client, tenant, item["alertId"])["mitreTechnique"] == "T1021"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("mitreTactic", "Teleportation"),
            ("mitreTactic", "TA9999"),
            ("mitreTechnique", "T9999"),
            ("mitreTechnique", "not a technique"),
        ],
    )
    def test_unknown_values_are_refused(
        self, client: httpx.Client, tenant: TenantKeys, field: str, value: str
    ) -> None:
        resp = client.post("/api/v1/alerts", json=alert(**{field: value}), headers=tenant.headers())
        assert_problem(resp, 400, "validation_failed", field=field)
        batch = {"alerts": [alert(), alert(**{field: value})]}
        resp = client.post("/api/v1/alerts", json=batch, headers=tenant.headers())
        assert_problem(resp, 400, field=f"alerts[1].{field}")
        assert list_all(client, "/api/v1/alerts", tenant.headers(Role.VIEWER)) == []


class TestAlertReads:
    def test_detail_fields(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert(
            srcPort=51515,
            destIp="10.0.0.9",
            destPort=443,
            category="Execution",
            tags=["edr", "prod"],
            entities=[{"type": "host", "value": "ws-1", "os": "Windows"}],
        )
        item = ingest(client, tenant, **body)
        stored = get_alert(client, tenant, item["alertId"])
        for name in (
            "ruleName",
            "source",
            "externalId",
            "severity",
            "hostname",
            "username",
            "srcIp",
            "srcPort",
            "destIp",
            "destPort",
            "category",
            "tags",
            "initiatorCmd",
            "mitreTechnique",
        ):
            assert stored[name] == body[name], name
        assert stored["entities"] == body["entities"]
        assert stored["tenantId"] == str(tenant.id)
        assert stored["groupingReason"] == item["groupingReason"]

    def test_event_time_is_kept(self, client: httpx.Client, tenant: TenantKeys) -> None:
        when = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
        item = ingest(client, tenant, createdAt=when.isoformat())
        stored = get_alert(client, tenant, item["alertId"])
        assert ts(stored["createdAt"]) == when
        assert ts(stored["lastSeenAt"]) > when

    def test_list_filters(self, client: httpx.Client, tenant: TenantKeys) -> None:
        base = datetime.now(UTC) - timedelta(days=2)
        bodies = [
            alert(
                hostname=f"h{i % 3}",
                severity=i % 5,
                source=f"S{i % 2}",
                username=f"u{i % 4}@corp.example",
                createdAt=(base + timedelta(hours=i)).isoformat(),
            )
            for i in range(12)
        ]
        answer = post_alerts(client, tenant, *bodies)
        ids = [i["alertId"] for i in answer["items"]]
        view = tenant.headers(Role.VIEWER)
        everything = list_all(client, "/api/v1/alerts", view)
        assert sorted(a["id"] for a in everything) == sorted(ids)
        assert [ts(a["createdAt"]) for a in everything] == sorted(
            (ts(a["createdAt"]) for a in everything), reverse=True
        )
        cut = base + timedelta(hours=5)
        checks = {
            "hostname": ("h1", lambda b: b["hostname"] == "h1"),
            "source": ("S0", lambda b: b["source"] == "S0"),
            "severity": (3, lambda b: b["severity"] == 3),
            "username": ("u2@corp.example", lambda b: b["username"] == "u2@corp.example"),
            "createdAfter": (
                cut.isoformat(),
                lambda b: datetime.fromisoformat(b["createdAt"]) >= cut,
            ),
            "createdBefore": (
                cut.isoformat(),
                lambda b: datetime.fromisoformat(b["createdAt"]) < cut,
            ),
            "incidentId": (answer["items"][0]["incidentId"], lambda b: b is not None),
        }
        for name, (value, keep) in checks.items():
            got = {a["id"] for a in list_all(client, "/api/v1/alerts", view, **{name: value})}
            if name == "incidentId":
                want = {i["alertId"] for i in answer["items"] if i["incidentId"] == value}
            else:
                want = {i for i, b in zip(ids, bodies, strict=True) if keep(b)}
            assert 0 < len(want) < len(ids), name
            assert got == want, name

    def test_paging_walks_every_alert_once(self, client: httpx.Client, tenant: TenantKeys) -> None:
        answer = post_alerts(client, tenant, *[alert() for _ in range(7)])
        view = tenant.headers(Role.VIEWER)
        walked = list_all(client, "/api/v1/alerts", view, limit=2)
        assert len(walked) == 7
        assert sorted(a["id"] for a in walked) == sorted(i["alertId"] for i in answer["items"])
        whole = client.get("/api/v1/alerts", params={"limit": 50}, headers=view).json()
        assert [a["id"] for a in walked] == [a["id"] for a in whole["items"]]
        assert whole["nextCursor"] is None

    def test_bad_cursor(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get(
            "/api/v1/alerts", params={"cursor": "not-a-cursor"}, headers=tenant.headers(Role.VIEWER)
        )
        assert_problem(resp, 400, field="cursor")

    def test_unknown_alert_is_404(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get(f"/api/v1/alerts/{uuid.uuid4()}", headers=tenant.headers())
        assert_problem(resp, 404, "alert.not_found")
