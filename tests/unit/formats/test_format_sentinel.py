"""Sentinel SecurityAlert rows (current and legacy ASC columns) -> muster alerts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from muster.alerts.formats import Unmappable, detect
from muster.alerts.formats.sentinel import to_alert
from muster.alerts.schemas import AlertIn
from muster.attack import normalise_tactic

Records = list[dict[str, Any]]
SEVERITY = {"Informational": 1, "Low": 2, "Medium": 3, "High": 4}


def _time(cell: str) -> datetime:
    return datetime.fromisoformat(cell)


def test_every_row_maps_and_validates(sentinel_rows: Records, asc_rows: Records) -> None:
    for row in sentinel_rows + asc_rows:
        assert detect(row) == "sentinel"
        alert = to_alert(row)
        assert alert["raw"] is row
        AlertIn.model_validate(alert)


def test_current_rows_fields_come_from_the_row(sentinel_rows: Records) -> None:
    for row in sentinel_rows:
        alert = to_alert(row)
        assert alert["ruleName"] == row["AlertName"].strip()
        assert alert["externalId"] == row["SystemAlertId"]
        assert alert["source"] == row["ProductName"]
        assert alert["severity"] == SEVERITY[row["AlertSeverity"]]
        # event time is StartTime, never TimeGenerated (the rows were rewritten weeks later)
        assert _time(alert["createdAt"]) == _time(row["StartTime"])
        assert _time(alert["createdAt"]) != _time(row["TimeGenerated"])


def test_comma_list_tactics_give_the_first_tactic_and_tag_all(sentinel_rows: Records) -> None:
    multi = [r for r in sentinel_rows if "," in r["Tactics"]]
    assert multi
    for row in multi:
        alert = to_alert(row)
        named = [t.strip() for t in row["Tactics"].split(",")]
        assert alert["mitreTactic"] == normalise_tactic(named[0])
        tactic_tags = [t for t in alert["tags"] if t.startswith("mitre:TA")]
        assert len(tactic_tags) == len(set(named))
        for technique in json.loads(row["Techniques"] or "[]"):
            assert f"mitre:{technique}" in alert["tags"]


def test_unknown_tactic_is_dropped(sentinel_rows: Records) -> None:
    row = next(r for r in sentinel_rows if r["Tactics"] == "Unknown" and not r["Techniques"])
    alert = to_alert(row)
    assert "mitreTactic" not in alert and "mitreTechnique" not in alert


def test_entities_resolve_references_and_hashes(sentinel_rows: Records) -> None:
    for row in sentinel_rows:
        graph = json.loads(row["Entities"])
        alert = to_alert(row)
        values = {(e["type"], e["value"]) for e in alert["entities"]}
        for item in graph:
            if item.get("Type") == "account" and item.get("UserPrincipalName"):
                assert ("account", item["UserPrincipalName"]) in values
            if item.get("Type") == "host" and item.get("FQDN"):
                assert ("host", item["FQDN"]) in values
            if item.get("Type") == "ip" and item.get("Address"):
                assert ("ip", item["Address"]) in values
            if item.get("Type") == "process" and isinstance(item.get("ImageFile"), dict):
                image = item["ImageFile"]
                if "$id" in image:
                    for digest in image.get("FileHashes", []):
                        assert ("filehash", digest["Value"].lower()) in values
        assert all("$ref" not in e for e in alert["entities"])


def test_host_and_user_fields_follow_entities(sentinel_rows: Records) -> None:
    row = next(
        r
        for r in sentinel_rows
        if '"UserPrincipalName"' in r["Entities"] and '"FQDN"' in r["Entities"]
    )
    graph = json.loads(row["Entities"])
    alert = to_alert(row)
    first_account = next(e for e in graph if e.get("Type") == "account")
    first_host = next(e for e in graph if e.get("Type") == "host")
    assert alert["username"] == first_account["UserPrincipalName"]
    assert alert["hostname"] == first_host["FQDN"]
    account = next(e for e in alert["entities"] if e["type"] == "account")
    assert account["sid"] == first_account["Sid"]


def test_process_command_line_becomes_initiator(sentinel_rows: Records) -> None:
    row = next(r for r in sentinel_rows if '"CommandLine"' in r["Entities"])
    process = next(e for e in json.loads(row["Entities"]) if e.get("Type") == "process")
    alert = to_alert(row)
    assert alert["initiatorCmd"] == process["CommandLine"]
    found = [e for e in alert["entities"] if e["type"] == "process"]
    assert found[0]["commandLine"] == process["CommandLine"]


def test_legacy_asc_rows(asc_rows: Records) -> None:
    for row in asc_rows:
        alert = to_alert(row)
        assert alert["ruleName"] == row["AlertName"].strip()
        assert alert["severity"] == SEVERITY[row["Severity"]]
        assert _time(alert["createdAt"]).replace(tzinfo=None) == _time(row["StartTimeUtc"])
        expected = (
            "Azure Sentinel"
            if row["ProviderName"] == "CustomAlertRule"
            else "Azure Security Center"
        )
        assert alert["source"] == expected


def test_legacy_attacker_and_victim_addresses(asc_rows: Records) -> None:
    row = next(r for r in asc_rows if "Attacker IP" in r["ExtendedProperties"])
    props = json.loads(row["ExtendedProperties"])
    alert = to_alert(row)
    assert alert["srcIp"] == props["Attacker IP"]
    assert alert["destIp"] == props["Victim IP"]
    assert alert["srcPort"] == int(props["Attacker Port"])


def test_self_made_legacy_row_with_json_list_tactics() -> None:
    row = {
        "SystemAlertId": "a-1",
        "AlertDisplayName": "Suspicious process",
        "Severity": "High",
        "StartTimeUtc": "2019-01-11 06:31:40",
        "Tactics": '["Execution", "Persistence"]',
        "Techniques": '["T1059"]',
        "SubTechniques": '["T1059.001"]',
        "Entities": "",
        "ExtendedProperties": "",
    }
    alert = to_alert(row)
    assert (alert["mitreTactic"], alert["mitreTechnique"]) == ("Execution", "T1059.001")
    assert {"mitre:TA0002", "mitre:TA0003", "mitre:T1059", "mitre:T1059.001"} <= set(alert["tags"])
    assert alert["createdAt"].startswith("2019-01-11T06:31:40")


def test_missing_name_and_bad_entities_are_named() -> None:
    try:
        to_alert({"SystemAlertId": "x"})
    except Unmappable as exc:
        assert exc.field == "AlertName"
    else:
        raise AssertionError("a row without a name mapped")
    try:
        to_alert({"SystemAlertId": "x", "AlertName": "n", "Entities": "[{"})
    except Unmappable as exc:
        assert exc.field == "Entities"
    else:
        raise AssertionError("broken Entities JSON mapped")
