"""Bad input: every failure is a 4xx problem+json naming the field, leaves nothing behind, and
the server keeps serving."""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import (
    assert_problem,
    assert_serving,
    create_incident,
    get_alert,
    get_incident,
    ingest,
    list_all,
    post_alerts,
)
from tests.factories import TenantKeys, alert

ALERTS = "/api/v1/alerts"


@pytest.fixture(autouse=True)
def still_serving(client: httpx.Client, tenant: TenantKeys) -> Iterator[None]:
    """After every test of this module the server still answers a good request."""
    yield
    assert_serving(client, tenant)


def post_raw(
    client: httpx.Client,
    tenant: TenantKeys,
    content: bytes | str,
    path: str = ALERTS,
    method: str = "POST",
) -> httpx.Response:
    return client.request(
        method,
        path,
        content=content,
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )


def nothing_stored(client: httpx.Client, tenant: TenantKeys) -> None:
    view = tenant.headers(Role.VIEWER)
    assert list_all(client, ALERTS, view) == []
    assert list_all(client, "/api/v1/incidents", view) == []


class TestMalformed:
    def test_malformed_json(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for content in (
            b"{",
            b'{"ruleName": "x", "source": "y",}',
            b"{'ruleName': 'x'}",
            b"NaN",
            b'{"severity": NaN, "ruleName": "x", "source": "y"}',
            b"[1, 2",
            b"\xef\xbb\xbf{}",
            b'{"ruleName": "x"} trailing',
            b'{"ruleName": "x" "source": "y"}',
            b'{"ruleName": 1e400, "source": "y"}',
            b'{"alerts": [{"ruleName": "x"},]}',
        ):
            assert_problem(
                post_raw(client, tenant, content), 400, "request.malformed_json", field="body"
            )
        nothing_stored(client, tenant)

    @pytest.mark.parametrize("content", [b"", b"   ", b"\n\t"])
    def test_empty_body(self, client: httpx.Client, tenant: TenantKeys, content: bytes) -> None:
        assert_problem(
            post_raw(client, tenant, content), 400, "request.malformed_json", field="body"
        )

    @pytest.mark.parametrize(
        "content", [b"null", b"[]", b'"alert"', b"42", b"true", json.dumps([alert()]).encode()]
    )
    def test_not_an_object(self, client: httpx.Client, tenant: TenantKeys, content: bytes) -> None:
        assert_problem(post_raw(client, tenant, content), 400, field="body")
        nothing_stored(client, tenant)

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/api/v1/incidents"),
            ("POST", "/api/v1/grouping-rules"),
            ("POST", "/api/v1/users"),
            ("POST", "/api/v1/apikeys"),
        ],
    )
    def test_malformed_json_on_other_routes(
        self, client: httpx.Client, tenant: TenantKeys, method: str, path: str
    ) -> None:
        resp = client.request(
            method,
            path,
            content=b'{"name": ',
            headers={**tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/json"},
        )
        assert_problem(resp, 400)

    def test_malformed_json_on_incident_routes(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        made = create_incident(client, tenant)
        for method, path in (
            ("PATCH", f"/api/v1/incidents/{made['id']}"),
            ("POST", f"/api/v1/incidents/{made['id']}/comments"),
            ("POST", f"/api/v1/incidents/{made['id']}/merge"),
        ):
            assert_problem(post_raw(client, tenant, b"{]", path, method), 400)
            assert_problem(post_raw(client, tenant, b"", path, method), 400)
        assert get_incident(client, tenant, made["id"]) == made


class TestTypesAndValues:
    def test_wrong_alert_fields(self, client: httpx.Client, tenant: TenantKeys) -> None:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"ruleName": 5}, "ruleName"),
            ({"ruleName": ""}, "ruleName"),
            ({"ruleName": None}, "ruleName"),
            ({"source": ["x"]}, "source"),
            ({"severity": "high"}, "severity"),
            ({"severity": 5}, "severity"),
            ({"severity": -1}, "severity"),
            ({"severity": 2.5}, "severity"),
            ({"srcPort": 70000}, "srcPort"),
            ({"destPort": "https"}, "destPort"),
            ({"tags": "phishing"}, "tags"),
            ({"tags": [1, 2]}, "tags"),
            ({"tags": ["x"] * 101}, "tags"),
            ({"createdAt": "yesterday"}, "createdAt"),
            ({"entities": [{"type": "spaceship"}]}, "entities"),
            ({"entities": {"type": "host"}}, "entities"),
            ({"hostname": {"a": 1}}, "hostname"),
            ({"externalId": 12345}, "externalId"),
            ({"description": "x" * 70_000}, "description"),
            ({"mitreTactic": 8}, "mitreTactic"),
            ({"mitreTechnique": "T1059.999"}, "mitreTechnique"),
        ]
        for over, field in cases:
            resp = client.post(ALERTS, json=alert(**over), headers=tenant.headers())
            assert_problem(resp, 400, "validation_failed", field=field)
            batch = {"alerts": [alert(), alert(**over)]}
            resp = client.post(ALERTS, json=batch, headers=tenant.headers())
            assert_problem(resp, 400, "validation_failed", field=f"alerts[1].{field}")
        nothing_stored(client, tenant)

    def test_missing_required_fields(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert()
        del body["ruleName"], body["source"]
        problem = assert_problem(client.post(ALERTS, json=body, headers=tenant.headers()), 400)
        assert {e["field"] for e in problem["errors"]} >= {"ruleName", "source"}

    @pytest.mark.parametrize("value", ["CLOSED", "open", "", 3, None])
    def test_unknown_status(self, client: httpx.Client, tenant: TenantKeys, value: Any) -> None:
        made = create_incident(client, tenant)
        resp = client.patch(
            f"/api/v1/incidents/{made['id']}", json={"status": value}, headers=tenant.headers()
        )
        assert_problem(resp, 400, field="status")
        assert get_incident(client, tenant, made["id"]) == made

    def test_unknown_status_in_list_filter(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get(
            "/api/v1/incidents", params={"status": "CLOSED"}, headers=tenant.headers()
        )
        assert_problem(resp, 400, field="status")

    def test_wrong_path_ids(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for path in (
            "/api/v1/incidents/123",
            "/api/v1/alerts/xyz",
            "/api/v1/grouping-rules/not-a-uuid",
            "/api/v1/users/1",
        ):
            assert_problem(client.get(path, headers=tenant.headers(Role.TENANT_ADMIN)), 400)

    def test_unknown_route_and_method(self, client: httpx.Client, tenant: TenantKeys) -> None:
        assert_problem(
            client.get("/api/v1/nothing-here", headers=tenant.headers()), 404, "route.not_found"
        )
        assert_problem(
            client.delete(ALERTS, headers=tenant.headers()), 405, "route.method_not_allowed"
        )


class TestBatches:
    def test_invalid_alert_seven_rejects_the_whole_batch(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        bodies = [alert(hostname=f"b{i}") for i in range(12)]
        bad = [*bodies[:7], {**bodies[7], "severity": "critical"}, *bodies[8:]]
        resp = client.post(ALERTS, json={"alerts": bad}, headers=tenant.headers())
        problem = assert_problem(resp, 400, "validation_failed", field="alerts[7].severity")
        assert problem["errors"][0]["field"] == "alerts[7].severity"
        nothing_stored(client, tenant)
        answer = post_alerts(client, tenant, *bodies)
        assert [i["duplicate"] for i in answer["items"]] == [False] * len(bodies)
        assert answer["incidentsCreated"] == len(bodies)

    def test_a_bad_batch_does_not_touch_stored_alerts(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        known = alert()
        first = ingest(client, tenant, **known)
        before = get_alert(client, tenant, first["alertId"])
        incident = get_incident(client, tenant, first["incidentId"])
        batch = {"alerts": [known, alert(), alert(), alert(severity=99)]}
        assert_problem(
            client.post(ALERTS, json=batch, headers=tenant.headers()),
            400,
            field="alerts[3].severity",
        )
        assert get_alert(client, tenant, first["alertId"]) == before
        assert get_incident(client, tenant, first["incidentId"]) == incident
        assert len(list_all(client, ALERTS, tenant.headers())) == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"alerts": []}, "alerts"),
            ({"alerts": "many"}, "alerts"),
            ({"alerts": None}, "alerts"),
            ({"alerts": [alert(), 5]}, "alerts[1]"),
            ({"alerts": [alert(), None]}, "alerts[1]"),
            ({"alerts": [alert(), []]}, "alerts[1]"),
        ],
    )
    def test_bad_batch_shapes(
        self, client: httpx.Client, tenant: TenantKeys, body: dict[str, Any], field: str
    ) -> None:
        assert_problem(client.post(ALERTS, json=body, headers=tenant.headers()), 400, field=field)
        nothing_stored(client, tenant)

    def test_oversize_batch(self, client: httpx.Client, tenant: TenantKeys) -> None:
        one = '{"ruleName":"r","source":"s"}'
        content = '{"alerts":[' + ",".join([one] * 10_001) + "]}"
        resp = post_raw(client, tenant, content)
        problem = assert_problem(resp, resp.status_code, "request.batch_too_large", field="alerts")
        assert resp.status_code in (400, 413)
        assert "10000" in problem["detail"].replace(",", "")
        nothing_stored(client, tenant)


def _send_until_answer(base_url: str, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send `head`, then body bytes until the server answers; return (answer, body bytes sent)."""
    parts = urlsplit(base_url)
    sent = 0
    answer = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        pending = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not pending:
                pending = next(chunks, b"")
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 5)
            if readable:
                break
            if writable:
                try:
                    n = sock.send(pending)
                except OSError:
                    break
                sent += n
                pending = pending[n:]
        try:
            while not _complete(answer):
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except OSError:
            pass
    return answer, sent


def _complete(answer: bytes) -> bool:
    if b"\r\n\r\n" not in answer:
        return False
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def _problem_of(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


class TestHugeBodies:
    FIFTY_MB = 50 * 1024 * 1024

    def _head(self, tenant: TenantKeys, extra: str) -> bytes:
        return (
            f"POST {ALERTS} HTTP/1.1\r\nHost: test\r\n"
            f"Authorization: Bearer {tenant.keys[Role.ANALYST]}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n"
        ).encode()

    def test_declared_50_mb_is_refused_before_it_is_sent(
        self, base_url: str, tenant: TenantKeys
    ) -> None:
        head = self._head(tenant, f"Content-Length: {self.FIFTY_MB}\r\n")
        chunk = b"[" * 65536
        chunks = (chunk for _ in range(self.FIFTY_MB // len(chunk)))
        answer, sent = _send_until_answer(base_url, head, chunks)
        status, headers, problem = _problem_of(answer)
        assert status == 413
        assert headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "request.too_large" and problem["status"] == 413
        assert problem["title"] == "Payload too large"
        assert sent < self.FIFTY_MB // 2, sent  # answered long before the body was all sent

    def test_streamed_50_mb_without_length_is_cut_off(
        self, base_url: str, tenant: TenantKeys
    ) -> None:
        head = self._head(tenant, "Transfer-Encoding: chunked\r\n")
        data = b" " * (1024 * 1024)
        framed = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        chunks = (framed for _ in range(50))
        answer, sent = _send_until_answer(base_url, head, chunks)
        status, headers, problem = _problem_of(answer)
        assert status == 413
        assert headers["content-type"].startswith("application/problem+json")
        assert problem["code"] == "request.too_large"
        assert problem["title"] == "Payload too large"
        assert sent < 45 * len(framed), sent

    def test_50_mb_through_httpx(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = b'{"ruleName":"r","source":"s","pad":"' + b"x" * self.FIFTY_MB + b'"}'
        try:
            resp = client.post(
                ALERTS,
                content=body,
                headers={**tenant.headers(), "Content-Type": "application/json"},
            )
        except httpx.TransportError:  # the server may close before the upload ends
            return
        assert_problem(resp, 413, "request.too_large")
        nothing_stored(client, tenant)


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


class TestNesting:
    def test_2000_levels_in_a_field(self, client: httpx.Client, tenant: TenantKeys) -> None:
        content = '{"ruleName":"r","source":"s","tags":' + _nested(2000) + "}"
        assert_problem(post_raw(client, tenant, content), 400)
        nothing_stored(client, tenant)

    def test_2000_levels_of_objects(self, client: httpx.Client, tenant: TenantKeys) -> None:
        content = '{"ruleName":"r","source":"s","x":' + '{"a":' * 2000 + "1" + "}" * 2000 + "}"
        assert_problem(post_raw(client, tenant, content), 400)
        nothing_stored(client, tenant)

    def test_300_levels_inside_an_unknown_field(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        content = '{"ruleName":"r","source":"s","vendor":{"deep":' + _nested(300) + "}}"
        # raw is stored as JSON up to 255 levels; deeper vendor data is refused, by name
        assert_problem(post_raw(client, tenant, content), 400, field="vendor")
        nothing_stored(client, tenant)

    @pytest.mark.parametrize(
        "number",
        [
            "7",
            "12345678901234567890123",  # beyond 64 bits: the exact (stdlib) path
        ],
    )
    def test_whatever_is_accepted_can_be_read_back(
        self, client: httpx.Client, tenant: TenantKeys, number: str
    ) -> None:
        for depth in (200, 250, 253, 254, 260, 300, 600, 900):
            content = f'{{"ruleName":"r","source":"s","n":{number},"x":{_nested(depth)}}}'
            resp = post_raw(client, tenant, content)
            if resp.status_code != 200:
                assert_problem(resp, 400, field="x")
                continue
            item = resp.json()["items"][0]
            stored = client.get(f"{ALERTS}/{item['alertId']}", headers=tenant.headers())
            assert stored.status_code == 200, (depth, stored.text)
            assert stored.json()["raw"] == json.loads(content)
            assert get_incident(client, tenant, item["incidentId"])["alertCount"] >= 1

    def test_moderate_nesting_is_kept(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert(vendor={"deep": json.loads(_nested(100))})
        item = ingest(client, tenant, **body)
        assert get_alert(client, tenant, item["alertId"])["raw"] == body

    def test_deep_entities(self, client: httpx.Client, tenant: TenantKeys) -> None:
        content = (
            '{"ruleName":"r","source":"s","entities":[{"type":"host","value":"h",'
            '"extra":' + _nested(300) + "}]}"
        )
        resp = post_raw(client, tenant, content)
        assert_problem(resp, 400, field="entities")
        nothing_stored(client, tenant)


class TestNulAndEncoding:
    def test_nul_in_known_fields(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for field in (
            "ruleName",
            "source",
            "hostname",
            "username",
            "externalId",
            "initiatorCmd",
            "description",
            "category",
            "srcIp",
            "rawEventId",
        ):
            body = alert(**{field: "evil\u0000value"})
            assert "\\u0000" in json.dumps(body)
            assert_problem(
                client.post(ALERTS, json=body, headers=tenant.headers()), 400, field=field
            )
        nothing_stored(client, tenant)

    def test_nul_in_tags_and_entities(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for over, field in (
            ({"tags": ["ok", "b\u0000d"]}, "tags"),
            ({"entities": [{"type": "host", "value": "h\u0000"}]}, "entities"),
        ):
            assert_problem(
                client.post(ALERTS, json=alert(**over), headers=tenant.headers()), 400, field=field
            )
        nothing_stored(client, tenant)

    def test_nul_in_unknown_fields(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert(vendor={"cmd": "a\u0000b", "k\u0000ey": 1})
        resp = client.post(ALERTS, json=body, headers=tenant.headers())
        if resp.status_code == 200:  # kept: then exactly as sent
            item = resp.json()["items"][0]
            assert get_alert(client, tenant, item["alertId"])["raw"] == body
            return
        assert_problem(resp, 400, field="vendor")
        nothing_stored(client, tenant)

    def test_nul_elsewhere(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        url = f"/api/v1/incidents/{made['id']}"
        for body, field in (
            ({"description": "a\u0000"}, "description"),
            ({"tags": ["\u0000"]}, "tags"),
            ({"assignee": "a\u0000@example.test"}, "assignee"),
            ({"resolutionComment": "\u0000"}, "resolutionComment"),
        ):
            assert_problem(client.patch(url, json=body, headers=tenant.headers()), 400, field=field)
        assert get_incident(client, tenant, made["id"]) == made
        assert_problem(
            client.post(
                "/api/v1/incidents", json={"description": "x\u0000"}, headers=tenant.headers()
            ),
            400,
            field="description",
        )

    def test_nul_in_query_parameters(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for path, param in (
            ("/api/v1/incidents", "q"),
            ("/api/v1/incidents", "tag"),
            ("/api/v1/incidents", "source"),
            ("/api/v1/incidents", "assignee"),
            ("/api/v1/incidents", "cursor"),
            ("/api/v1/alerts", "hostname"),
            ("/api/v1/alerts", "source"),
            ("/api/v1/alerts", "username"),
        ):
            resp = client.get(path, params={param: "a\x00b"}, headers=tenant.headers())
            assert_problem(resp, 400, field=param)

    def test_nul_in_path(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for path in ("/api/v1/incidents/by-hash/AB%00C-DEFG", "/api/v1/alerts/%00"):
            resp = client.get(path, headers=tenant.headers())
            assert_problem(resp, 400, field="path")

    def test_invalid_encodings(self, client: httpx.Client, tenant: TenantKeys) -> None:
        for content in (
            b'{"ruleName":"r\xff\xfe","source":"s"}',
            b'{"ruleName":"r","source":"\xc3\x28"}',
            b'{"ruleName":"r","source":"s","x":"\xed\xa0\x80"}',
            b'\xff{"ruleName":"r"}',
            b'{"ruleName":"r","source":"s","x":"\\ud800"}',
            '{"ruleName":"r","source":"s"}'.encode("utf-16"),
            '{"ruleName":"r","source":"s"}'.encode("latin-1") + b"\xe9",
            b'{"ruleName":"r","source":"s","x":"\x00"}',
            b'{"ruleName":"r\x01","source":"s"}',
        ):
            assert_problem(
                post_raw(client, tenant, content), 400, "request.malformed_json", field="body"
            )
        nothing_stored(client, tenant)

    def test_valid_unicode_is_kept(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert(
            hostname="pc-ñandú-😀",
            description="línea\nnext\ttab \u2028 end",
            vendor={"emoji": "🛡️", "rtl": "مرحبا"},
        )
        item = ingest(client, tenant, **body)
        stored = get_alert(client, tenant, item["alertId"])
        assert stored["hostname"] == body["hostname"]
        assert stored["description"] == body["description"]
        assert stored["raw"] == body


class TestProblemShape:
    def test_every_error_is_problem_json(self, client: httpx.Client, tenant: TenantKeys) -> None:
        made = create_incident(client, tenant)
        cases = [
            client.get("/api/v1/incidents"),
            client.get("/api/v1/incidents", headers={"Authorization": "Bearer x"}),
            client.post(ALERTS, json=alert(), headers=tenant.headers(Role.VIEWER)),
            client.get(f"/api/v1/incidents/{uuid.uuid4()}", headers=tenant.headers()),
            client.patch(
                f"/api/v1/incidents/{made['id']}",
                json={"status": "RESOLVED"},
                headers=tenant.headers(),
            ),
            client.patch(
                f"/api/v1/incidents/{made['id']}",
                json={"severity": 2},
                headers={**tenant.headers(), "If-Match": '"999"'},
            ),
            client.patch(  # a digit int() refuses
                f"/api/v1/incidents/{made['id']}",
                json={"severity": 2},
                headers={**tenant.headers(), "If-Match": b'"\xb2"'},
            ),
            client.post(ALERTS, content=b"{", headers=tenant.headers()),
            client.get("/api/v1/nope", headers=tenant.headers()),
        ]
        assert [r.status_code for r in cases] == [401, 401, 403, 404, 409, 412, 400, 400, 404]
        for resp in cases:
            assert_problem(resp, resp.status_code)
