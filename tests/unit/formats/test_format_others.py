"""Sentinel REST, Wazuh, Suricata, Elastic, OCSF and muster records -> muster alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from muster.alerts.formats import (
    FORMATS,
    Unmappable,
    detect,
    elastic,
    mapper,
    ocsf,
    sentinel_api,
    suricata,
    wazuh,
)
from muster.alerts.formats.ocsf_schema import schema_version, severity_caption
from muster.alerts.schemas import AlertIn

Records = list[dict[str, Any]]


def _time(value: Any) -> datetime:
    """An event time; one without an offset is UTC (as muster takes it)."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _valid(name: str, records: Records) -> list[dict[str, Any]]:
    """Every record detected as `name`, mapped, valid, raw kept verbatim."""
    alerts = []
    for record in records:
        assert detect(record) == name
        alert = mapper(name)(record)  # type: ignore[misc]
        assert alert["raw"] is record
        AlertIn.model_validate(alert)
        alerts.append(alert)
    return alerts


class TestSentinelApi:
    def test_example_response(self, sentinel_api_alerts: Records) -> None:
        for record, alert in zip(
            sentinel_api_alerts, _valid("sentinel-api", sentinel_api_alerts), strict=True
        ):
            props = record["properties"]
            assert alert["ruleName"] == props["alertDisplayName"]
            assert alert["externalId"] == props["systemAlertId"]
            assert alert["source"] == props["productName"]
            assert _time(alert["createdAt"]) == _time(props["startTimeUtc"])

    def test_tactics_list_and_missing_name(self) -> None:
        record = {
            "kind": "SecurityAlert",
            "properties": {
                "alertDisplayName": "x",
                "tactics": ["LateralMovement", "Execution"],
                "severity": "High",
            },
        }
        alert = sentinel_api.to_alert(record)
        assert alert["mitreTactic"] == "Lateral Movement" and alert["severity"] == 4
        with pytest.raises(Unmappable) as caught:
            sentinel_api.to_alert({"kind": "SecurityAlert", "properties": {}})
        assert caught.value.field == "properties.alertDisplayName"


class TestWazuh:
    def test_real_records(self, wazuh_records: Records) -> None:
        for record, alert in zip(wazuh_records, _valid("wazuh", wazuh_records), strict=True):
            assert alert["ruleName"] == record["rule"]["description"]
            assert alert["externalId"] == record["id"]
            assert alert["severity"] == wazuh.severity(record["rule"]["level"])
            assert _time(alert["createdAt"]) == _time(
                record["timestamp"].replace("+0000", "+00:00")
            )
            host = record.get("predecoder", {}).get("hostname") or record["agent"]["name"]
            assert alert["hostname"] == host

    def test_address_with_port_and_bracketed_user(self, wazuh_records: Records) -> None:
        record = next(r for r in wazuh_records if ":" in r.get("data", {}).get("dstip", ""))
        address, port = record["data"]["dstip"].rsplit(":", 1)
        alert = wazuh.to_alert(record)
        assert (alert["destIp"], alert["destPort"]) == (address, int(port))
        record = next(
            r for r in wazuh_records if r.get("data", {}).get("srcuser", "").startswith("<")
        )
        assert wazuh.to_alert(record)["username"] == record["data"]["srcuser"].strip("<>")

    def test_levels_and_mitre(self) -> None:
        assert [wazuh.severity(x) for x in (0, 3, 4, 6, 7, 11, 12, 15)] == [1, 1, 2, 2, 3, 3, 4, 4]
        record = {
            "rule": {
                "level": 10,
                "description": "brute force",
                "mitre": {"id": ["T1110"], "tactic": ["Credential Access"]},
            },
            "agent": {"name": "web-1"},
        }
        alert = wazuh.to_alert(record)
        assert (alert["mitreTactic"], alert["mitreTechnique"]) == ("Credential Access", "T1110")
        with pytest.raises(Unmappable):
            wazuh.to_alert({"rule": {"level": 3}, "agent": {}})


class TestSuricata:
    def test_real_records(self, suricata_records: Records) -> None:
        for record, alert in zip(
            suricata_records, _valid("suricata", suricata_records), strict=True
        ):
            assert alert["ruleName"] == record["alert"]["signature"]
            assert alert["severity"] == {1: 4, 2: 3, 3: 2}[record["alert"]["severity"]]
            assert (alert["srcIp"], alert["destIp"]) == (record["src_ip"], record["dest_ip"])
            assert alert.get("srcPort") == record.get("src_port")
            assert _time(alert["createdAt"]) == _time(record["timestamp"])
            assert "externalId" not in alert  # EVE has no alert id: content identifies it

    def test_http_url_and_mitre_metadata(self, suricata_records: Records) -> None:
        record = next(r for r in suricata_records if r.get("http", {}).get("hostname"))
        alert = suricata.to_alert(record)
        expected = f"http://{record['http']['hostname']}{record['http']['url']}"
        assert {"type": "url", "value": expected} in alert["entities"]
        made = {
            "event_type": "alert",
            "alert": {
                "signature": "s",
                "severity": 1,
                "metadata": {"mitre_tactic_id": ["TA0001"], "mitre_technique_id": ["T1190"]},
            },
        }
        alert = suricata.to_alert(made)
        assert (alert["mitreTactic"], alert["mitreTechnique"]) == ("Initial Access", "T1190")
        assert "createdAt" not in alert


class TestElastic:
    def test_archive_records(self, elastic_records: Records) -> None:
        for record, alert in zip(elastic_records, _valid("elastic", elastic_records), strict=True):
            doc = record["value"]["source"]
            assert alert["ruleName"] == doc["kibana.alert.rule.name"]
            assert alert["externalId"] == doc["kibana.alert.uuid"]
            assert alert["hostname"] == doc["host"]["name"]
            assert (
                alert["severity"]
                == {"low": 2, "medium": 3, "high": 4, "critical": 4}[doc["kibana.alert.severity"]]
            )
            assert _time(alert["createdAt"]) == _time(doc["kibana.alert.original_time"])
            assert {"type": "ip", "value": doc["host"]["ip"]} in alert["entities"]

    def test_nested_hit_with_threat(self) -> None:
        hit = {
            "_id": "abc",
            "_source": {
                "kibana": {
                    "alert": {
                        "rule": {
                            "name": "r",
                            "threat": [
                                {
                                    "framework": "MITRE ATT&CK",
                                    "tactic": {"id": "TA0002", "name": "Execution"},
                                    "technique": [
                                        {"id": "T1059", "subtechnique": [{"id": "T1059.001"}]}
                                    ],
                                }
                            ],
                        }
                    }
                },
                "process": {"command_line": "powershell -enc x", "executable": "C:\\p.exe"},
            },
        }
        assert detect(hit) == "elastic"
        alert = elastic.to_alert(hit)
        assert (alert["mitreTactic"], alert["mitreTechnique"]) == ("Execution", "T1059.001")
        assert alert["externalId"] == "abc" and alert["initiatorCmd"] == "powershell -enc x"
        with pytest.raises(Unmappable):
            elastic.to_alert({"_source": {"kibana.alert.uuid": "x"}})


class TestOcsf:
    def test_real_findings(self, ocsf_records: dict[str, dict[str, Any]]) -> None:
        for record in ocsf_records.values():
            (alert,) = _valid("ocsf", [record])
            info = record.get("finding_info") or record["finding"]
            assert alert["ruleName"] == info["title"]
            assert alert["externalId"] == info["uid"]
            assert alert["source"] == record["metadata"]["product"]["name"]
            version = schema_version(record["metadata"]["version"])
            caption = severity_caption(version, record["class_uid"], record["severity_id"])
            assert alert["severity"] == {"Unknown": 0, "Low": 2, "Medium": 3}[caption]

    def test_first_seen_time_and_tactic_from_types(self, ocsf_records: dict[str, Any]) -> None:
        record = ocsf_records["aws_securityhub_guardduty.detection_finding"]
        alert = ocsf.to_alert(record)
        first_seen = record["finding_info"]["first_seen_time_dt"]
        assert _time(alert["createdAt"]) == _time(first_seen)
        tactic = record["finding_info"]["types"][0].split("/")[1]
        assert alert["mitreTactic"] == tactic
        ip = record["evidences"][0]["src_endpoint"]["ip"]
        assert alert["srcIp"] == ip and {"type": "ip", "value": ip} in alert["entities"]

    def test_epoch_seconds_and_other_classes(self) -> None:
        record = {
            "class_uid": 2004,
            "metadata": {"version": "1.1.0", "product": {"name": "p"}},
            "finding_info": {
                "title": "t",
                "uid": "u",
                "attacks": [{"tactic": {"uid": "TA0006"}, "technique": {"uid": "T1110"}}],
            },
            "severity_id": 5,
            "time": 1723564700,
        }
        alert = ocsf.to_alert(record)
        assert alert["createdAt"].startswith("2024-08-13T15:58:20")
        assert (alert["severity"], alert["mitreTechnique"]) == (4, "T1110")
        with pytest.raises(Unmappable) as caught:
            ocsf.to_alert({**record, "class_uid": 2003})
        assert caught.value.field == "class_uid" and "Compliance Finding" in caught.value.message


def test_muster_shape_is_identity_and_detection_knows_every_name() -> None:
    body = {"ruleName": "r", "source": "s", "severity": 2}
    assert detect(body) == "muster"
    assert mapper("muster")(body) == {**body, "raw": body}  # type: ignore[misc]
    assert set(FORMATS) == {
        "sentinel",
        "sentinel-api",
        "wazuh",
        "suricata",
        "elastic",
        "ocsf",
        "muster",
    }
    assert detect({"hello": "world"}) is None and mapper("splunk") is None
