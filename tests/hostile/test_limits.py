"""Every limit of docs/limits.md, enforced: the native API and the compatible ones answer a 4xx
in their own error format naming the limit, store nothing, and keep serving.

The server has tight limits of its own (a 256 KiB body, 5 alerts a batch, 16 levels of JSON
nesting) so the tests send small bodies; the other limits are the shipped ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from muster.api.limits import json_nesting
from muster.auth.keys import client_credentials
from muster.jsontext import depth
from muster.models.enums import Role
from muster.query.parser import MAX_DEPTH, MAX_LENGTH
from muster.query.patterns import MAX_EXPANSION, MAX_REPEAT
from tests.api.apicalls import assert_problem, assert_serving, list_all, post_alerts
from tests.factories import TenantKeys, alert, make_tenant
from tests.hostile.own_server import OwnServer, own_server

MAX_BODY = 256 * 1024
MAX_BATCH = 5
MAX_NESTING = 16
TEXT = 65_536  # the longest text field (descriptions, comments)
ALERTS = "/api/v1/alerts"
API_VERSION = {"api-version": "2023-02-01"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnServer]:
    """A server whose body, batch and nesting limits are small."""
    with own_server(
        tmp_path_factory,
        "hostile_limits",
        max_body_bytes=MAX_BODY,
        max_batch_alerts=MAX_BATCH,
        max_json_depth=MAX_NESTING,
    ) as made:
        yield made


@pytest.fixture()
def client(server: OwnServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


@pytest.fixture()
def tenant(server: OwnServer, client: httpx.Client) -> Iterator[TenantKeys]:
    """A fresh tenant; after the test the server still ingests and reads for it."""
    made = make_tenant(server.db)
    yield made
    assert_serving(client, made)


@pytest.fixture()
def incident(client: httpx.Client, tenant: TenantKeys) -> str:
    """An incident of the tenant (opened by an alert)."""
    items = post_alerts(client, tenant, alert(hostname=f"h-{uuid.uuid4().hex[:6]}"))["items"]
    return str(items[0]["incidentId"])


def nested(levels: int) -> Any:
    """A JSON value with `levels` levels of arrays (a scalar at the bottom)."""
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def send(client: httpx.Client, method: str, path: str, body: Any, **kw: Any) -> httpx.Response:
    """Send `body` as JSON text (bytes are sent as they are)."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return client.request(method, path, content=content, headers=headers, **kw)


def v2_headers(tenant: TenantKeys) -> dict[str, str]:
    return {
        "Authorization": httpx.BasicAuth(
            *client_credentials(tenant.keys[Role.ANALYST])
        )._auth_header
    }


def sentinel_path(tenant: TenantKeys, rest: str) -> str:
    return (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/"
        f"{tenant.id}/providers/Microsoft.SecurityInsights/{rest}"
    )


def assert_v2(resp: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    """A ContraForce v2 problem."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["code"] == code and body["detail"], body
    if field is not None:
        assert field in body["errors"], body


def assert_cloud(resp: httpx.Response, status: int, code: str, target: str | None = None) -> None:
    """A Sentinel CloudError (`target`: named by a detail)."""
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["message"], error
    if target is not None:
        assert any(target in d["target"] for d in error["details"]), error


def assert_beta(resp: httpx.Response, status: int, words: str) -> None:
    """A ContraForce beta error naming the limit in its message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["isSuccess"] is False and words in body["message"], body


def nothing_stored(client: httpx.Client, tenant: TenantKeys) -> None:
    assert list_all(client, ALERTS, tenant.headers(Role.VIEWER)) == []


class TestBodySize:
    def test_declared_and_streamed_bodies_over_the_limit(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        big = orjson.dumps(alert(description="x" * MAX_BODY))
        resp = send(client, "POST", ALERTS, big, headers=tenant.headers())
        assert_problem(resp, 413, "request.too_large")
        assert str(MAX_BODY) in resp.json()["detail"]
        streamed = client.post(
            ALERTS,
            content=iter([big[:1000], big[1000:]]),  # chunked: no Content-Length
            headers={**tenant.headers(), "Content-Type": "application/json"},
        )
        assert_problem(streamed, 413, "request.too_large")
        nothing_stored(client, tenant)

    def test_compatible_apis_answer_in_their_format(
        self, client: httpx.Client, tenant: TenantKeys, incident: str
    ) -> None:
        big = b'{"content": "' + b"x" * MAX_BODY + b'"}'
        path = f"/api/v2/workspaces/{tenant.id}/incidents/{incident}/comments"
        assert_v2(
            send(client, "POST", path, big, headers=v2_headers(tenant)), 413, "PAYLOAD_TOO_LARGE"
        )
        path = sentinel_path(tenant, f"incidents/{incident}")
        resp = send(client, "PUT", path, big, headers=tenant.headers(), params=API_VERSION)
        assert_cloud(resp, 413, "RequestEntityTooLarge")
        beta = send(
            client,
            "POST",
            "/api/beta/partners/incidents",
            big,
            headers={"x-api-key": tenant.keys[Role.ANALYST]},
            params={"tenantId": str(tenant.id)},
        )
        assert_beta(beta, 413, str(MAX_BODY))


class TestNesting:
    def test_as_deep_as_the_limit_is_taken(self, client: httpx.Client, tenant: TenantKeys) -> None:
        body = alert(vendor=nested(MAX_NESTING - 1))  # inside the alert object
        assert depth(body) == MAX_NESTING
        item = post_alerts(client, tenant, body)["items"][0]
        stored = client.get(f"{ALERTS}/{item['alertId']}", headers=tenant.headers())
        assert stored.json()["raw"]["vendor"] == body["vendor"]

    def test_one_level_deeper_is_refused_naming_where(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = {"alerts": [alert(), alert(vendor={"deep": nested(MAX_NESTING)})]}
        problem = assert_problem(
            send(client, "POST", ALERTS, body, headers=tenant.headers()),
            400,
            "limits.nesting_too_deep",
            field="alerts[1].vendor",
        )
        assert str(MAX_NESTING) in problem["detail"]
        nothing_stored(client, tenant)

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
    def test_every_json_route_and_content_type_is_covered(
        self, client: httpx.Client, tenant: TenantKeys, content_type: str | None
    ) -> None:
        deep = orjson.dumps({"description": nested(MAX_NESTING)})  # a pydantic-body route
        headers = {**tenant.headers(), **({"Content-Type": content_type} if content_type else {})}
        resp = client.post("/api/v1/incidents", content=deep, headers=headers)
        assert_problem(resp, 400, "limits.nesting_too_deep", field="description")

    def test_brackets_inside_strings_do_not_count(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        text = "[{" * 200 + '\\"]' * 3
        post_alerts(client, tenant, alert(description=text))
        assert json_nesting(orjson.dumps(alert(description=text)), MAX_NESTING) == 1

    def test_deeper_than_a_parser_reads_is_refused_as_the_body(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        deep = b"[" * 5000 + b"]" * 5000
        resp = send(client, "POST", ALERTS, deep, headers=tenant.headers())
        assert_problem(resp, 400, "limits.nesting_too_deep", field="body")
        # brackets that never close are no JSON at all: the parser names that
        resp = send(client, "POST", ALERTS, b"[" * 5000, headers=tenant.headers())
        assert_problem(resp, 400, "request.malformed_json", field="body")

    def test_compatible_apis_answer_in_their_format(
        self, client: httpx.Client, tenant: TenantKeys, incident: str
    ) -> None:
        deep = {"content": "c", "extra": nested(MAX_NESTING)}
        path = f"/api/v2/workspaces/{tenant.id}/incidents/{incident}/comments"
        resp = send(client, "POST", path, deep, headers=v2_headers(tenant))
        assert_v2(resp, 400, "VALIDATION_ERROR", field="extra[0][0]")  # three steps in
        path = sentinel_path(tenant, f"incidents/{incident}/comments/{uuid.uuid4()}")
        body = {"properties": {"message": "m", "extra": nested(MAX_NESTING)}}
        resp = send(client, "PUT", path, body, headers=tenant.headers(), params=API_VERSION)
        assert_cloud(resp, 400, "BadRequest", target="properties.extra")
        assert resp.json()["error"]["details"][0]["code"] == "limits.nesting_too_deep"


class TestBatchSize:
    def test_a_batch_over_the_limit_is_refused_whole(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        body = {"alerts": [alert() for _ in range(MAX_BATCH + 1)]}
        problem = assert_problem(
            send(client, "POST", ALERTS, body, headers=tenant.headers()),
            400,
            "request.batch_too_large",
            field="alerts",
        )
        assert str(MAX_BATCH) in problem["detail"]
        nothing_stored(client, tenant)
        post_alerts(client, tenant, *(alert() for _ in range(MAX_BATCH)))

    def test_contraforce_bulk_update_holds_1000_items(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        item = {"id": str(uuid.uuid4()), "workspace": {"id": str(tenant.id)}, "status": 2}
        resp = send(
            client,
            "POST",
            "/api/v2/incidents/across-workspaces/bulk-update",
            {"items": [item] * 1001},
            headers=v2_headers(tenant),
        )
        assert_v2(resp, 400, "VALIDATION_ERROR", field="items")


class TestStringsAndItems:
    @pytest.mark.parametrize(
        ("over", "field"),
        [
            ({"description": "x" * (TEXT + 1)}, "description"),
            ({"hostname": "h" * 513}, "hostname"),
            ({"tags": ["t"] * 101}, "tags"),
            ({"entities": [{"type": "host", "value": f"h{i}"} for i in range(1001)]}, "entities"),
        ],
    )
    def test_alert_fields(
        self, client: httpx.Client, tenant: TenantKeys, over: dict[str, Any], field: str
    ) -> None:
        resp = send(client, "POST", ALERTS, alert(**over), headers=tenant.headers())
        problem = assert_problem(resp, 400, "validation_failed", field=field)
        assert any(ch.isdigit() for ch in problem["errors"][0]["message"]), problem  # the max
        nothing_stored(client, tenant)

    def test_incident_and_comment_text(
        self, client: httpx.Client, tenant: TenantKeys, incident: str
    ) -> None:
        long = "x" * (TEXT + 1)
        resp = client.post(
            "/api/v1/incidents", json={"description": long}, headers=tenant.headers()
        )
        assert_problem(resp, 400, "validation_failed", field="description")
        path = f"/api/v1/incidents/{incident}/comments"
        assert_problem(
            client.post(path, json={"body": long}, headers=tenant.headers()),
            400,
            "validation_failed",
            field="body",
        )
        comments = client.get(path, headers=tenant.headers()).json()
        assert comments == [] or comments.get("items") == []

    def test_compatible_apis_bound_comments_and_labels(
        self, client: httpx.Client, tenant: TenantKeys, incident: str
    ) -> None:
        long = "x" * (TEXT + 1)
        path = f"/api/v2/workspaces/{tenant.id}/incidents/{incident}/comments"
        resp = send(client, "POST", path, {"content": long}, headers=v2_headers(tenant))
        assert_v2(resp, 400, "VALIDATION_ERROR", field="content")
        path = sentinel_path(tenant, f"incidents/{incident}/comments/{uuid.uuid4()}")
        body = {"properties": {"message": long}}
        resp = send(client, "PUT", path, body, headers=tenant.headers(), params=API_VERSION)
        assert_cloud(resp, 400, "BadRequest", target="properties.message")
        labels = [{"labelName": f"l{i}"} for i in range(101)]
        body = {"properties": {"title": "t", "severity": "High", "status": "New", "labels": labels}}
        path = sentinel_path(tenant, f"incidents/{uuid.uuid4()}")
        resp = send(client, "PUT", path, body, headers=tenant.headers(), params=API_VERSION)
        assert_cloud(resp, 400, "BadRequest", target="properties.labels")


class TestFilters:
    def filter_problem(
        self, client: httpx.Client, tenant: TenantKeys, text: str, code: str
    ) -> dict[str, Any]:
        for path in (ALERTS, "/api/v1/incidents"):
            resp = client.get(path, params={"filter": text}, headers=tenant.headers())
            problem = assert_problem(resp, 400, code, field="filter")
        return problem

    def test_length(self, client: httpx.Client, tenant: TenantKeys) -> None:
        text = "severity = 1 or " * (MAX_LENGTH // 16) + "severity = 2"
        problem = self.filter_problem(client, tenant, text, "query.too_long")
        assert str(MAX_LENGTH) in problem["detail"]

    def test_nesting(self, client: httpx.Client, tenant: TenantKeys) -> None:
        inside = "not (" * MAX_DEPTH + "severity = 1" + ")" * MAX_DEPTH
        for path in (ALERTS, "/api/v1/incidents"):
            resp = client.get(path, params={"filter": inside}, headers=tenant.headers())
            assert resp.status_code == 200, resp.text
        problem = self.filter_problem(client, tenant, f"not ({inside})", "query.too_deep")
        assert str(MAX_DEPTH) in problem["detail"]

    @pytest.mark.parametrize(
        "text",
        [
            "severity = 9223372036854775808",
            "severity > 1e400",
            "createdAt > -36526d",
            "raw.a[2147483648] = 1",
        ],
    )
    def test_numbers_and_times_out_of_range(
        self, client: httpx.Client, tenant: TenantKeys, text: str
    ) -> None:
        self.filter_problem(client, tenant, text, "query.out_of_range")

    def test_sentinel_odata_filter_meets_the_same_limits(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        condition = "properties/severity eq 'High'"
        deep = condition
        for level in range(MAX_DEPTH + 1):  # and/or alternate: each is a level of its own
            deep = f"{condition} {('and', 'or')[level % 2]} ({deep})"
        resp = client.get(
            sentinel_path(tenant, "incidents"),
            params={**API_VERSION, "$filter": deep},
            headers=tenant.headers(),
        )
        assert resp.status_code == 400, resp.text
        assert "nest" in resp.json()["error"]["message"], resp.text


class TestRegularExpressions:
    @pytest.mark.parametrize(
        ("pattern", "words"),
        [
            (f"a{{{MAX_REPEAT + 1}}}", f"at most {MAX_REPEAT}"),
            ("(a{100}){101}", f"at most {MAX_EXPANSION}"),
            ("(a{65535}){65535}", f"at most {MAX_REPEAT}"),
            ("x" * 257, "256 characters"),
        ],
    )
    def test_costly_patterns_are_refused(
        self, client: httpx.Client, tenant: TenantKeys, pattern: str, words: str
    ) -> None:
        text = f"hostname matches {json.dumps(pattern)}"
        for path in (ALERTS, "/api/v1/incidents"):
            flt = text if path == ALERTS else f"alerts.{text}"
            resp = client.get(path, params={"filter": flt}, headers=tenant.headers())
            problem = assert_problem(resp, 400, "query.bad_regex", field="filter")
            assert words in problem["detail"], problem
        rule = {"name": "r", "windowSeconds": 60, "keyFields": ["hostname"], "filter": text}
        resp = client.post(
            "/api/v1/grouping-rules", json=rule, headers=tenant.headers(Role.TENANT_ADMIN)
        )
        assert_problem(resp, 400, "query.bad_regex")

    def test_catastrophic_backtracking_runs_out_of_time_not_the_server(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        slow = "a" * 40 + "!"  # `(a|aa)+$` backtracks for seconds over this
        post_alerts(client, tenant, alert(hostname=slow), alert(hostname="aaaa"))
        started = time.monotonic()
        resp = client.get(
            ALERTS, params={"filter": 'hostname matches "(a|aa)+$"'}, headers=tenant.headers()
        )
        assert resp.status_code == 200, resp.text
        assert [a["hostname"] for a in resp.json()["items"]] == ["aaaa"]  # timed out: no match
        assert time.monotonic() - started < 10


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(alphabet='[]{}"\\a\n'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text('[]{}"\\a'), inner, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=300, derandomize=True, database=None)
@given(value=JSON_VALUES, limit=st.integers(1, 8), indent=st.sampled_from([None, 1]))
def test_nesting_is_measured_on_the_text_as_the_parser_would(
    value: Any, limit: int, indent: int | None
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    assert json_nesting(text, limit) == min(depth(value), limit + 1)
