"""Ingesting other products' records over HTTP: `?format=`, auto-detection, bad records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import assert_problem, get_alert, list_all, ts
from tests.factories import TenantKeys, alert

ALERTS = "/api/v1/alerts"


def _lines(path: Path, count: int) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:count]]


@pytest.fixture(scope="module")
def samples(shared_alerts: Path) -> dict[str, list[dict[str, Any]]]:
    """A few real records of every foreign format."""
    api = json.loads(
        (shared_alerts / "azure-rest-api-sentinel/GetAllIncidentAlerts.json").read_text()
    )
    ocsf = [
        json.loads(p.read_text())
        for p in sorted((shared_alerts / "ocsf-findings").glob("*.ocsf.json"))
    ]
    return {
        "sentinel": _lines(shared_alerts / "excytin-sentinel-xdr/security_alerts.jsonl", 5),
        "sentinel-api": api["responses"]["200"]["body"]["value"],
        "wazuh": _lines(shared_alerts / "ait-wazuh/ossec_spiral.jsonl", 5),
        "suricata": json.loads(
            (shared_alerts / "suricata-eve/honeypot-2018_alerts.json").read_text()
        )[:5],
        "elastic": _lines(
            shared_alerts
            / "elastic-security-alerts/kibana_es_archive_8.1.0_threat_match_alerts.jsonl",
            2,
        ),
        "ocsf": ocsf,
    }


def _post(
    client: httpx.Client, tenant: TenantKeys, records: list[Any], fmt: str | None
) -> httpx.Response:
    params = {"format": fmt} if fmt else {}
    return client.post(ALERTS, json={"alerts": records}, params=params, headers=tenant.headers())


def test_each_format_named_stores_its_records_with_raw(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    for fmt, records in samples.items():
        resp = _post(client, tenant, records, fmt)
        assert resp.status_code == 200, (fmt, resp.text)
        items = resp.json()["items"]
        assert len(items) == len(records)
        for record, item in zip(records, items, strict=True):
            stored = get_alert(client, tenant, item["alertId"])
            assert stored["raw"] == record  # the vendor record, verbatim
            assert stored["incidentId"] == item["incidentId"]


def test_reingest_is_idempotent(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    for fmt in ("sentinel", "suricata", "wazuh"):
        records = samples[fmt]
        first = _post(client, tenant, records, fmt).json()
        again = _post(client, tenant, records, fmt).json()
        assert again["duplicates"] == len(records) and again["incidentsCreated"] == 0
        assert [i["alertId"] for i in again["items"]] == [i["alertId"] for i in first["items"]]
        stored = get_alert(client, tenant, first["items"][0]["alertId"])
        assert stored["occurrences"] >= 2


def test_sentinel_fields_come_from_the_row(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    row = samples["sentinel"][0]
    item = _post(client, tenant, [row], None).json()["items"][0]  # detected, no format given
    stored = get_alert(client, tenant, item["alertId"])
    assert stored["ruleName"] == row["AlertName"].strip()
    assert stored["externalId"] == row["SystemAlertId"]
    assert stored["source"] == row["ProductName"]
    assert ts(stored["createdAt"]) == datetime.fromisoformat(row["StartTime"]).astimezone(UTC)
    upns = [
        e["UserPrincipalName"] for e in json.loads(row["Entities"]) if e.get("UserPrincipalName")
    ]
    assert {e["value"] for e in stored["entities"] if e["type"] == "account"} >= set(upns)


def test_auto_detection_mixes_formats_and_keeps_muster_shape(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    native = alert()
    mixed = [native, samples["wazuh"][1], samples["suricata"][1], samples["ocsf"][0]]
    items = _post(client, tenant, mixed, None).json()["items"]
    sources = [get_alert(client, tenant, i["alertId"])["source"] for i in items]
    assert sources[0] == native["source"]
    assert sources[1:3] == ["Wazuh", "Suricata"]
    assert sources[3] == mixed[3]["metadata"]["product"]["name"]


def test_unknown_format_name_is_a_400_naming_format(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    resp = client.post(ALERTS, json=alert(), params={"format": "splunk"}, headers=tenant.headers())
    assert_problem(resp, 400, "alert.unknown_format", field="format")


def test_unrecognised_record_names_its_index_and_nothing_is_stored(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    resp = _post(client, tenant, [samples["wazuh"][0], {"hello": "world"}], None)
    assert_problem(resp, 400, "alert.unknown_format", field="alerts[1]")
    assert list_all(client, ALERTS, tenant.headers(Role.VIEWER)) == []


def test_unmappable_record_names_index_and_field_and_nothing_is_stored(
    client: httpx.Client, tenant: TenantKeys, samples: dict[str, list[dict[str, Any]]]
) -> None:
    broken = {k: v for k, v in samples["suricata"][0].items()}
    broken["alert"] = {k: v for k, v in broken["alert"].items() if k != "signature"}
    resp = _post(client, tenant, [samples["suricata"][1], broken], "suricata")
    problem = assert_problem(resp, 400, "validation_failed", field="alerts[1].alert.signature")
    assert problem["errors"][0]["field"] == "alerts[1].alert.signature"
    # a muster-shape body under a foreign format is unmappable too, by the first field it lacks
    resp = _post(client, tenant, [alert(), alert()], "wazuh")
    assert_problem(resp, 400, "validation_failed", field="alerts[0].rule.description")
    assert list_all(client, ALERTS, tenant.headers(Role.VIEWER)) == []
