"""Entities and evidence derived from alerts, for the compatible APIs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from muster.compat.entities import entities_of
from muster.compat.evidence import MAX_COLUMNS, evidence_table

INCIDENT = uuid.UUID("6f1c8a52-1f0e-4c55-9d44-0f3b7f0c2a11")


@dataclass
class FakeAlert:
    """Plain data with the fields entities are derived from (not a stand-in for a service)."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    entities: list[dict[str, Any]] = field(default_factory=list)
    hostname: str | None = None
    src_hostname: str | None = None
    dest_hostname: str | None = None
    username: str | None = None
    src_ip: str | None = None
    dest_ip: str | None = None
    initiator_cmd: str | None = None
    initiator_path: str | None = None
    initiator_hash: str | None = None


class TestEntities:
    def test_fields_and_typed_entities_become_sentinel_kinds(self) -> None:
        sha = "a" * 64
        alert = FakeAlert(
            hostname="ws-0142.corp.example",
            username="j.doe@corp.example",
            src_ip="10.0.0.7",
            initiator_cmd="powershell -enc AAAA",
            initiator_path=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            initiator_hash=sha,
            entities=[
                {"type": "url", "value": "https://evil.example/x"},
                {"type": "mailbox", "value": "ceo@corp.example", "displayName": "The CEO"},
                {"type": "account", "value": "CORP\\svc-backup", "sid": "S-1-5-21-1"},
                {"type": "other", "value": "ignored"},
            ],
        )
        found = {e.kind: e for e in entities_of(INCIDENT, [alert])}
        assert set(found) == {
            "Url",
            "Mailbox",
            "Account",
            "Host",
            "Ip",
            "Process",
            "File",
            "FileHash",
        }
        host = found["Host"].properties
        assert host["hostName"] == "ws-0142" and host["dnsDomain"] == "corp.example"
        assert found["Ip"].properties["address"] == alert.src_ip
        assert found["Process"].properties["commandLine"] == alert.initiator_cmd
        assert found["File"].properties["fileName"] == "powershell.exe"
        assert found["File"].properties["directory"].endswith("v1.0")
        assert found["FileHash"].properties == {"algorithm": "SHA256", "hashValue": sha}
        assert found["Mailbox"].properties["displayName"] == "The CEO"
        accounts = [e for e in entities_of(INCIDENT, [alert]) if e.kind == "Account"]
        by_name = {e.properties["accountName"]: e.properties for e in accounts}
        assert by_name["svc-backup"]["ntDomain"] == "CORP"
        assert by_name["svc-backup"]["sid"] == "S-1-5-21-1"
        assert by_name["j.doe"]["upnSuffix"] == "corp.example"

    def test_the_same_thing_named_twice_is_one_entity_with_both_alerts(self) -> None:
        first = FakeAlert(hostname="WS-1.corp.example")
        second = FakeAlert(
            entities=[{"type": "host", "value": "ws-1.corp.example", "osFamily": "Windows"}]
        )
        hosts = entities_of(INCIDENT, [first, second])
        assert len(hosts) == 1
        assert hosts[0].alert_ids == (first.id, second.id)
        assert hosts[0].properties["osFamily"] == "Windows"  # a later alert fills the gap
        assert hosts[0].friendly_name == "WS-1.corp.example"  # the first spelling stays

    def test_ids_are_stable_per_incident_and_differ_between_incidents(self) -> None:
        alert = FakeAlert(src_ip="192.0.2.1")
        once = entities_of(INCIDENT, [alert])[0].id
        assert entities_of(INCIDENT, [FakeAlert(src_ip="192.0.2.1")])[0].id == once
        assert entities_of(uuid.uuid4(), [alert])[0].id != once
        assert uuid.UUID(once)

    def test_an_alert_naming_nothing_gives_no_entities(self) -> None:
        assert entities_of(INCIDENT, [FakeAlert(entities=[{"type": "ip"}, "junk"])]) == []  # type: ignore[list-item]


class TestEvidence:
    def test_rows_are_strings_under_the_union_of_columns(self) -> None:
        raws = [
            {"Operation": "FileDownloaded", "UserId": "a@b.c", "Count": 3, "Ok": True},
            {"Operation": "FileUploaded", "Site": {"Url": "https://x", "Id": 7}, "Tags": ["a"]},
        ]
        table = evidence_table(raws)
        assert table.columns[:4] == ["Operation", "UserId", "Count", "Ok"]
        assert "Site.Url" in table.columns and "Tags" in table.columns
        assert all(isinstance(cell, str) for row in table.rows for cell in row)
        first, second = ({c: v for c, v in zip(table.columns, r, strict=True)} for r in table.rows)
        assert first["Count"] == "3" and first["Ok"] == "True" and first["Site.Url"] == ""
        assert second["Site.Id"] == "7" and second["Tags"] == '["a"]'

    def test_a_payload_that_is_not_an_object_is_one_raw_cell(self) -> None:
        table = evidence_table(["<14>Nov 24 sshd: Failed password", None])
        assert table.columns == ["raw"]
        assert table.rows == [["<14>Nov 24 sshd: Failed password"], [""]]

    def test_columns_are_capped(self) -> None:
        table = evidence_table([{f"f{i}": i for i in range(MAX_COLUMNS + 50)}])
        assert len(table.columns) == MAX_COLUMNS == len(table.rows[0])
