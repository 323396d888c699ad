"""`GET /api/v1/metrics/incidents` over HTTP: JSON and CSV, groupings, scope, tenancy, errors.

Incidents are generated into the server's database (`tests/service/test_metrics_service.py`
holds the generator and the Python reference of every figure); the answer must equal the
reference computed for the window and the `generatedAt` the server reports.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from muster.sla.metrics_params import Dimension, MetricsQuery, Period
from tests.api.apicalls import assert_problem, create_incident, global_headers, patch_incident, ts
from tests.factories import TenantKeys
from tests.service.test_metrics_service import Row, epoch_ms, generate, reference, store

URL = "/api/v1/metrics/incidents"
START = datetime(2021, 3, 1, tzinfo=UTC)
END = datetime(2021, 4, 12, tzinfo=UTC)
WINDOW = {"from": "2021-03-01T00:00:00Z", "to": "2021-04-12"}


@pytest.fixture()
def seeded(db: Database, tenant: TenantKeys, other_tenant: TenantKeys) -> list[Row]:
    """250 incidents of `tenant` and 60 of `other_tenant` around the 2021 window."""
    rows = generate(tenant.id, 250, seed=11, start=START, end=END)
    rows += generate(other_tenant.id, 60, seed=12, start=START, end=END)
    store(db, rows)
    return rows


def _get(client: httpx.Client, headers: dict[str, str], **params: str) -> dict[str, Any]:
    resp = client.get(URL, params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = resp.json()
    return body


def _expected(rows: list[Row], body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The reference for the window, grouping and `generatedAt` the answer reports."""
    query = MetricsQuery(
        start=ts(body["from"]),
        end=ts(body["to"]),
        group_by=tuple(Dimension(d) for d in body["groupBy"]),
        period=Period(body["period"] or "day"),
    )
    return reference(rows, query, ts(body["generatedAt"]))


KEY_NAMES = {"tenant": "tenantId", "severity": "severity", "source": "source",
             "tactic": "tactic", "assignee": "assignee", "period": "period"}  # fmt: skip


def _answered(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The answer's groups in the reference's shape."""
    out = {}
    for group in body["groups"]:
        key = tuple(group["key"][KEY_NAMES[d]] for d in body["groupBy"])
        if "tenant" in body["groupBy"]:
            i = body["groupBy"].index("tenant")
            key = (*key[:i], uuid.UUID(key[i]), *key[i + 1 :])
        durations = [
            tuple(group[name][f] for f in ("median", "mean", "p90"))
            for name in ("mttaSeconds", "mttrSeconds")
        ]
        out[key] = {
            "opened": group["opened"], "excluded": group["excluded"],
            "resolved": group["resolved"], "breached": group["breached"],
            "mtta": durations[0], "mttr": durations[1], "within": group["withinSlaPercent"],
        }  # fmt: skip
    return out


class TestJson:
    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"groupBy": "severity"},
            {"groupBy": "source,tactic"},
            {"groupBy": "assignee, period", "period": "week"},
            {"groupBy": "period", "period": "month"},
        ],
        ids=["total", "severity", "source-tactic", "assignee-week", "month"],
    )
    def test_the_figures_equal_the_reference(
        self, client: httpx.Client, tenant: TenantKeys, seeded: list[Row], params: dict[str, str]
    ) -> None:
        body = _get(client, tenant.headers(Role.VIEWER), **WINDOW, **params)
        assert (ts(body["from"]), ts(body["to"])) == (START, END)
        assert body["scope"] == "tenant"
        expected = _expected([r for r in seeded if r.tenant_id == tenant.id], body)
        assert _answered(body) == expected
        assert sum(f["opened"] for f in expected.values()) > 150  # guard: the data is there
        for group in body["groups"]:  # the key shows exactly the grouped dimensions
            assert set(group["key"]) == {KEY_NAMES[d] for d in body["groupBy"]}

    def test_the_default_window_is_the_last_30_days(
        self, client: httpx.Client, db: Database, tenant: TenantKeys
    ) -> None:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # no half-millisecond
        rows = [
            Row(tenant.id, now - timedelta(days=days), 3, "manual", None, None, False,
                now - timedelta(days=days) + timedelta(minutes=days), None,
                now - timedelta(days=days) + timedelta(hours=1), None)
            for days in (1, 10, 29, 31, 45)
        ]  # fmt: skip
        store(db, rows)
        body = _get(client, tenant.headers(Role.VIEWER))
        assert ts(body["to"]) - ts(body["from"]) == timedelta(days=30)
        assert abs(ts(body["to"]) - datetime.now(UTC)) < timedelta(seconds=30)
        assert body["groupBy"] == [] and body["period"] is None
        (total,) = body["groups"]
        assert total["key"] == {} and total["opened"] == 3
        assert _answered(body) == _expected(rows, body)
        assert total["mttaSeconds"]["median"] == 600.0  # 1, 10 and 29 minutes

    def test_an_incident_worked_through_the_api_is_measured(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        incident = create_incident(client, tenant, severity=4)
        resp = patch_incident(client, tenant, incident["id"], status="UNDER_INVESTIGATION")
        assert resp.status_code == 200, resp.text
        worked = resp.json()
        stamps = [ts(worked[f]) for f in ("createdAt", "respondedAt")]
        expected = (epoch_ms(stamps[1]) - epoch_ms(stamps[0])) / 1000
        # an exact half millisecond may round either way (docs/metrics.md)
        slack = 0.001 if any(t.microsecond % 1000 == 500 for t in stamps) else 0
        body = _get(client, tenant.headers(Role.VIEWER), groupBy="severity,source")
        (group,) = body["groups"]
        assert group["key"] == {"severity": 4, "source": "manual"}
        assert (group["opened"], group["resolved"], group["excluded"]) == (1, 0, 0)
        assert abs(group["mttaSeconds"]["median"] - expected) <= slack + 1e-9  # float subtraction
        assert group["mttrSeconds"] == {"median": None, "mean": None, "p90": None}


class TestCsv:
    def test_format_csv_and_accept_text_csv_give_the_json_figures(
        self, client: httpx.Client, tenant: TenantKeys, seeded: list[Row]
    ) -> None:
        params = {**WINDOW, "groupBy": "severity,period", "period": "week"}
        body = _get(client, tenant.headers(Role.VIEWER), **params)
        by_param = client.get(URL, params={**params, "format": "csv"}, headers=tenant.headers())
        accept = {**tenant.headers(), "Accept": "text/csv"}
        by_accept = client.get(URL, params=params, headers=accept)
        for resp in (by_param, by_accept):
            assert resp.status_code == 200, resp.text
            assert resp.headers["content-type"].startswith("text/csv")
            assert resp.headers["content-disposition"].startswith("attachment; filename=")
        assert by_param.text == by_accept.text
        header, *rows = list(csv.reader(io.StringIO(by_param.text)))
        assert header == [
            "severity", "period", "opened", "resolved", "breached", "excluded",
            "mttaMedianSeconds", "mttaMeanSeconds", "mttaP90Seconds", "mttrMedianSeconds",
            "mttrMeanSeconds", "mttrP90Seconds", "withinSlaPercent",
        ]  # fmt: skip
        assert len(rows) == len(body["groups"]) > 10
        for row, group in zip(rows, body["groups"], strict=True):
            figures = [group[f] for f in ("opened", "resolved", "breached", "excluded")]
            for name in ("mttaSeconds", "mttrSeconds"):
                figures += [group[name][f] for f in ("median", "mean", "p90")]
            figures.append(group["withinSlaPercent"])
            cells = [group["key"]["severity"], group["key"]["period"], *figures]
            assert row == ["" if v is None else str(v) for v in cells]

    def test_text_that_a_spreadsheet_would_run_is_quoted(
        self, client: httpx.Client, db: Database, tenant: TenantKeys
    ) -> None:
        at = datetime.now(UTC) - timedelta(days=1)
        row = Row(tenant.id, at, 2, "=HYPERLINK(\"http://x.test\")", None, None, False,
                  None, None, None, None)  # fmt: skip
        store(db, [row])
        resp = client.get(
            URL, params={"groupBy": "source", "format": "csv"}, headers=tenant.headers()
        )
        (line,) = list(csv.reader(io.StringIO(resp.text)))[1:]
        assert line[0] == '\'=HYPERLINK("http://x.test")'
        body = _get(client, tenant.headers(), groupBy="source")
        assert body["groups"][0]["key"]["source"] == row.source


class TestScope:
    def test_scope_all_is_refused_to_tenant_keys(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        resp = client.get(URL, params={"scope": "all"}, headers=tenant.headers(Role.TENANT_ADMIN))
        assert_problem(resp, 403, "auth.role_required")

    def test_scope_all_groups_every_tenant_for_a_global_admin(
        self,
        client: httpx.Client,
        global_key: str,
        tenant: TenantKeys,
        other_tenant: TenantKeys,
        seeded: list[Row],
    ) -> None:
        params = {**WINDOW, "scope": "all", "groupBy": "tenant,severity"}
        body = _get(client, global_headers(global_key), **params)
        assert body["scope"] == "all"
        names = {tenant.id: tenant.name, other_tenant.id: other_tenant.name}
        ours = [g for g in body["groups"] if uuid.UUID(g["key"]["tenantId"]) in names]
        assert {g["key"]["tenantName"] for g in ours} == set(names.values())
        assert _answered({**body, "groups": ours}) == _expected(seeded, body)

    def test_a_tenant_never_sees_another_tenants_incidents(
        self, client: httpx.Client, global_key: str, other_tenant: TenantKeys, seeded: list[Row]
    ) -> None:
        own = [r for r in seeded if r.tenant_id == other_tenant.id]
        for headers in (
            other_tenant.headers(Role.VIEWER),
            global_headers(global_key, other_tenant.id),
        ):
            body = _get(client, headers, **WINDOW, groupBy="tenant,source")
            assert {g["key"]["tenantId"] for g in body["groups"]} == {str(other_tenant.id)}
            assert _answered(body) == _expected(own, body)


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "last tuesday"}, "from"),
            ({"to": "2021-13-01"}, "to"),
            ({"from": "2021-04-12", "to": "2021-03-01"}, "from"),
            ({"from": "2001-01-01", "to": "2021-01-01"}, "from"),
            ({"groupBy": "severity,colour"}, "groupBy"),
            ({"groupBy": "severity,severity"}, "groupBy"),
            ({"period": "hour", "groupBy": "period"}, "period"),
            ({"scope": "everyone"}, "scope"),
            ({"format": "xml"}, "format"),
        ],
    )
    def test_a_bad_parameter_is_named(
        self, client: httpx.Client, tenant: TenantKeys, params: dict[str, str], field: str
    ) -> None:
        resp = client.get(URL, params=params, headers=tenant.headers(Role.VIEWER))
        body = assert_problem(resp, 400, field=field)
        assert body["errors"][0]["field"] == field

    def test_no_key_is_401(self, client: httpx.Client) -> None:
        assert_problem(client.get(URL), 401, "auth.unauthenticated")

    def test_a_global_key_names_its_tenant_for_scope_tenant(
        self, client: httpx.Client, global_key: str
    ) -> None:
        assert_problem(client.get(URL, headers=global_headers(global_key)), 400, "tenant.required")
