"""Real records of every format, read from ../shared/data/alerts (skipped where it is absent)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

Records = list[dict[str, Any]]


def _lines(path: Path) -> Records:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def sentinel_rows(shared_alerts: Path) -> Records:
    """Current-schema SecurityAlert rows (Defender XDR through Sentinel)."""
    return _lines(shared_alerts / "excytin-sentinel-xdr" / "security_alerts.jsonl")


@pytest.fixture(scope="session")
def asc_rows(shared_alerts: Path) -> Records:
    """Legacy Azure Security Center SecurityAlert rows, as exported to CSV."""
    path = shared_alerts / "msticpy-sentinel-alerts" / "alertlist.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def sentinel_api_alerts(shared_alerts: Path) -> Records:
    """The alert entities of the REST API's example response."""
    example = json.loads(
        (shared_alerts / "azure-rest-api-sentinel" / "GetAllIncidentAlerts.json").read_text()
    )
    alerts: Records = example["responses"]["200"]["body"]["value"]
    return alerts


@pytest.fixture(scope="session")
def wazuh_records(shared_alerts: Path) -> Records:
    return _lines(shared_alerts / "ait-wazuh" / "ossec_spiral.jsonl")


@pytest.fixture(scope="session")
def suricata_records(shared_alerts: Path) -> Records:
    folder = shared_alerts / "suricata-eve"
    records: Records = []
    for path in sorted(folder.glob("*_alerts.json")):
        records += json.loads(path.read_text(encoding="utf-8"))
    return records + _lines(folder / "suricata_verify_alerts.jsonl")


@pytest.fixture(scope="session")
def elastic_records(shared_alerts: Path) -> Records:
    return _lines(
        shared_alerts
        / "elastic-security-alerts"
        / "kibana_es_archive_8.1.0_threat_match_alerts.jsonl"
    )


@pytest.fixture(scope="session")
def ocsf_records(shared_alerts: Path) -> dict[str, dict[str, Any]]:
    """The OCSF findings by file name stem (`falco.security_finding`, ...)."""
    folder = shared_alerts / "ocsf-findings"
    return {
        path.name.removesuffix(".ocsf.json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.ocsf.json"))
    }
