"""Every source parser under hostile input (hypothesis): a format's `to_alert` either returns
an alert or raises `Unmappable` (the parsers' documented bad-input error, named field), and the
ingest path around it (`detect`, `prepare`) fails only with `InvalidInput`. The file readers of
`muster ingest` (JSON array / JSON Lines, CSV) yield records or `Malformed`, nothing else.

Records are real-shaped seeds of each format, mutated (values replaced by odd or random JSON,
keys dropped, containers emptied, `$id`/`$ref` graphs made cyclic), and random JSON objects.
Nesting stays within what a request body may carry (`max_json_depth`). Derandomized.
"""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muster.alerts.batch import prepare
from muster.alerts.formats import FORMATS, Unmappable, detect, mapper
from muster.alerts.formats.csv_rows import read_csv_records
from muster.alerts.stream import Malformed, Record, read_records
from muster.config import Settings
from muster.errors import InvalidInput
from muster.incidents.lifecycle import Actor
from tests.hostile.recursion import server_stack

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACTOR = Actor("apikey", "fuzz", "parser fuzz")
DEPTH = Settings().max_json_depth
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ENTITIES = [
    {"$id": "2", "Type": "host", "HostName": "ws-1", "DnsDomain": "corp.example"},
    {"$id": "3", "Type": "account", "Name": "bob", "NTDomain": "CORP", "Host": {"$ref": "2"}},
    {
        "$id": "4",
        "Type": "process",
        "CommandLine": "powershell -enc AAAA",
        "ProcessId": "4242",
        "ImageFile": {
            "$id": "5",
            "Type": "file",
            "Name": "powershell.exe",
            "Directory": "C:\\Windows\\System32",
            "FileHashes": [{"$id": "6", "Algorithm": "SHA256", "Value": "ab" * 32}],
        },
        "ParentProcess": {"$ref": "4"},
        "Account": {"$ref": "3"},
    },
    {"$id": "7", "Type": "ip", "Address": "10.0.0.5"},
    {"$id": "8", "Type": "url", "Url": "http://evil.example/x"},
    {"$id": "9", "Type": "mailbox", "MailboxPrimaryAddress": "bob@corp.example"},
]
SEEDS: dict[str, dict[str, Any]] = {
    "muster": {
        "ruleName": "Suspicious PowerShell",
        "source": "Defender",
        "severity": 3,
        "hostname": "ws-1",
        "tags": ["a"],
        "entities": [{"type": "host", "value": "ws-1"}],
        "createdAt": "2026-11-24T08:00:00Z",
    },
    "sentinel": {
        "TimeGenerated": "2024-03-01T10:00:00Z",
        "AlertName": "Suspicious PowerShell",
        "AlertSeverity": "High",
        "Description": "d",
        "ProductName": "Microsoft Defender for Endpoint",
        "SystemAlertId": "a1b2",
        "VendorOriginalId": "v1",
        "StartTime": "2024-03-01T09:59:00Z",
        "EndTime": "2024-03-01T10:00:00Z",
        "Tactics": "Execution, Persistence",
        "Techniques": '["T1059"]',
        "SubTechniques": '["T1059.001"]',
        "CompromisedEntity": "ws-1.corp.example",
        "ExtendedProperties": '{"MicrosoftDefenderAtp.Category": "Execution", '
        '"ActionTaken": "Blocked", "Attacker IP": "1.2.3.4", "Attacker Port": "4444"}',
        "Entities": ENTITIES,  # a decoded graph (as a JSON cell it is text)
        "Type": "SecurityAlert",
    },
    "sentinel-api": {
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.SecurityInsights/entities/x",
        "name": "x",
        "kind": "SecurityAlert",
        "properties": {
            "alertDisplayName": "Suspicious PowerShell",
            "alertType": "t",
            "severity": "High",
            "systemAlertId": "a1b2",
            "productName": "Azure Security Center",
            "startTimeUtc": "2024-03-01T09:59:00Z",
            "endTimeUtc": "2024-03-01T10:00:00Z",
            "timeGenerated": "2024-03-01T10:00:00Z",
            "tactics": ["Execution"],
            "techniques": ["T1059"],
            "compromisedEntity": "ws-1",
            "vendorName": "Microsoft",
            "providerAlertId": "p1",
            "additionalData": {"Attacker IP": "1.2.3.4"},
        },
    },
    "elastic": {
        "_id": "abc",
        "_source": {
            "@timestamp": "2024-03-01T10:00:00Z",
            "kibana.alert.rule.name": "Threat match",
            "kibana.alert.uuid": "u1",
            "kibana.alert.severity": "high",
            "kibana.alert.rule.description": "d",
            "kibana.alert.original_time": "2024-03-01T09:59:00Z",
            "kibana.alert.reason": "r",
            "kibana.alert.rule.threat": [
                {
                    "framework": "MITRE ATT&CK",
                    "tactic": {"id": "TA0002", "name": "Execution"},
                    "technique": [{"id": "T1059", "subtechnique": [{"id": "T1059.001"}]}],
                }
            ],
            "host": {"name": "h", "ip": ["10.0.0.1"]},
            "user": {"name": "bob"},
            "process": {"executable": "/bin/sh", "command_line": "sh -c x", "pid": 3},
            "source": {"ip": "1.2.3.4", "port": 4444},
            "destination": {"ip": "10.0.0.2", "port": 22},
            "event": {"dataset": "x", "action": "y"},
        },
    },
    "ocsf": {
        "class_uid": 2004,
        "metadata": {"version": "1.1.0", "product": {"name": "Falco", "vendor_name": "Sysdig"}},
        "finding_info": {
            "title": "Shell in container",
            "uid": "f1",
            "desc": "d",
            "first_seen_time_dt": "2024-08-13T15:58:20Z",
            "types": ["TTP/Execution"],
            "attacks": [
                {
                    "tactic": {"uid": "TA0002", "name": "Execution"},
                    "technique": {"uid": "T1059"},
                    "sub_technique": {"uid": "T1059.004"},
                }
            ],
        },
        "severity_id": 4,
        "time": 1723564700,
        "evidences": [
            {
                "src_endpoint": {"ip": "10.0.0.1", "port": 1234},
                "dst_endpoint": {"ip": "10.0.0.2", "port": 80},
                "process": {"name": "bash", "cmd_line": "bash -i", "file": {"path": "/bin/bash"}},
            }
        ],
        "observables": [{"name": "ip", "type_id": 2, "value": "10.0.0.1"}],
        "device": {"hostname": "node-1"},
        "actor": {"user": {"name": "root"}},
    },
    "suricata": {
        "timestamp": "2024-01-01T00:00:00.000000+0000",
        "flow_id": 123,
        "event_type": "alert",
        "src_ip": "10.0.0.1",
        "src_port": 1234,
        "dest_ip": "10.0.0.2",
        "dest_port": 80,
        "proto": "TCP",
        "alert": {
            "action": "allowed",
            "signature_id": 2000,
            "signature": "ET POLICY x",
            "category": "Potential Corporate Privacy Violation",
            "severity": 2,
            "metadata": {"mitre_tactic_id": ["TA0011"], "mitre_technique_id": ["T1071"]},
        },
        "http": {"hostname": "a.example", "url": "/x"},
        "host": "sensor",
    },
    "wazuh": {
        "timestamp": "2022-01-21T00:00:00.000+0000",
        "rule": {
            "level": 10,
            "description": "sshd brute force",
            "id": "5712",
            "mitre": {"id": ["T1110"], "tactic": ["Credential Access"]},
            "groups": ["syslog", "sshd"],
        },
        "agent": {"id": "001", "name": "web-1", "ip": "10.0.0.3"},
        "manager": {"name": "wazuh"},
        "id": "1642",
        "full_log": "Failed password for root",
        "data": {"srcip": "1.2.3.4", "srcuser": "root", "dstuser": "admin", "srcport": "4444"},
        "location": "/var/log/auth.log",
        "predecoder": {"hostname": "web-1"},
    },
}

ODD: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**80),
    1.5e308,
    -0.0,
    0.1,
    "",
    " ",
    "\x00",
    "\u202e",
    "9" * 400,
    "x" * 70_000,
    "2024-13-45T99:99:99Z",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "1e400",
    "T1059.999",
    "TA9999",
    "Unknown",
    "999.999.999.999",
    "::::",
    "10.0.0.1:99999",
    '["unterminated',
    '{"$ref": "4"}',
    "[1, 2",
    "Execution, ,",
    [],
    {},
    [None],
    [[]],
    {"$ref": "2"},
    {"$ref": "404"},
    {"$id": "2", "$ref": "2"},
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(ODD).map(copy.deepcopy),  # a fresh copy: mutations must not reach ODD
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=25,
)


def nested(depth: int) -> Any:
    """A list nested `depth` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON value, parents before children."""
    found: list[tuple[Any, Any]] = []
    stack = [node]
    while stack:
        container = stack.pop()
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            found.append((container, key))
            if isinstance(container[key], dict | list):
                stack.append(container[key])
    return found


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any]) -> dict[str, Any]:
    """`seed` with one to six mutations at random places."""
    record = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 6))):
        places = slots(record)
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["odd", "random", "drop", "deep", "stringify"]))
        if action == "drop":
            del container[key]
        elif action == "odd":
            container[key] = copy.deepcopy(draw(st.sampled_from(ODD)))
        elif action == "deep":
            container[key] = nested(draw(st.integers(DEPTH - 12, DEPTH - 3)))
        elif action == "stringify":
            container[key] = str(container[key])
        else:
            container[key] = draw(JSON)
    return record


RECORDS = st.one_of(
    st.sampled_from(sorted(SEEDS)).flatmap(lambda name: mutated(SEEDS[name])),
    st.dictionaries(st.sampled_from(sorted({k for s in SEEDS.values() for k in s})), JSON),
    st.dictionaries(st.text(max_size=12), JSON),
)


@pytest.mark.parametrize("name", FORMATS)
@FUZZ
@given(record=RECORDS)
def test_a_format_maps_or_names_what_it_cannot_map(name: str, record: dict[str, Any]) -> None:
    with server_stack():
        map_and_prepare(name, record)


def map_and_prepare(name: str, record: dict[str, Any]) -> None:
    """Map `record` as `name`, then validate it as the ingest path does."""
    to_alert = mapper(name)
    assert to_alert is not None
    try:
        alert = to_alert(record)
    except Unmappable as exc:
        assert exc.field and exc.message
    else:
        assert isinstance(alert, dict)
    try:
        prepare([record], ACTOR, NOW, name)
    except InvalidInput as exc:
        assert exc.errors and exc.errors[0]["field"]


@FUZZ
@given(record=RECORDS)
def test_detection_and_ingest_fail_only_with_invalid_input(record: dict[str, Any]) -> None:
    with server_stack():
        found = detect(record)
        assert found is None or found in FORMATS
        try:
            prepare([record, record], ACTOR, NOW)
        except InvalidInput as exc:
            assert exc.errors and exc.errors[0]["field"].startswith("alerts[")


CHUNKS = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"[", b"]", b"{", b"}", b",", b'"', b"\n", b"\xef\xbb\xbf", b"\\", b"\r\n"]),
    JSON.map(lambda v: repr(v).encode()),
    st.sampled_from(sorted(SEEDS)).map(lambda n: str(SEEDS[n]).replace("'", '"').encode()),
)


@FUZZ
@given(chunks=st.lists(CHUNKS, max_size=12))
def test_file_readers_yield_records_or_malformed(chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    with server_stack():
        for read in (read_records, read_csv_records):
            for item in read(io.BufferedReader(io.BytesIO(data))):  # type: ignore[arg-type]
                assert isinstance(item, Record | Malformed)
