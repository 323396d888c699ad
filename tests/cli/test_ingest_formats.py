"""`muster ingest --format NAME`: other products' files, CSV exports included."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import select
from tests.factories import TenantKeys
from typer.testing import CliRunner

from muster.cli.main import app
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models import Alert


def _run(settings: Settings, *args: str) -> tuple[int, dict[str, int]]:
    env = {"MUSTER_DATABASE_URL": settings.database_url}
    result = CliRunner().invoke(app, [*args, "--json"], env=env, catch_exceptions=False)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    return result.exit_code, summary


def _stored(db: Database, tenant: TenantKeys) -> dict[str, str]:
    """externalId -> ruleName of the tenant's stored alerts."""
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        rows = session.execute(select(Alert.external_id, Alert.rule_name)).all()
    return {str(external): str(rule) for external, rule in rows}


def test_sentinel_csv_export(
    settings: Settings, db: Database, tenant: TenantKeys, shared_alerts: Path
) -> None:
    source = shared_alerts / "msticpy-sentinel-alerts" / "alertlist.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    code, summary = _run(
        settings, "ingest", str(source), "--tenant", str(tenant.id), "--format", "sentinel"
    )
    assert code == 0 and summary["errors"] == 0
    assert summary["alerts"] == len(rows)
    stored = _stored(db, tenant)
    assert len(stored) == summary["stored"]
    assert stored == {row["SystemAlertId"]: row["AlertName"].strip() for row in rows}


def test_wazuh_lines_detected_and_bad_format_refused(
    settings: Settings, db: Database, tenant: TenantKeys, shared_alerts: Path, tmp_path: Path
) -> None:
    lines = (shared_alerts / "ait-wazuh" / "ossec_spiral.jsonl").read_text().splitlines()[:20]
    path = tmp_path / "alerts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, summary = _run(settings, "ingest", str(path), "--tenant", str(tenant.id))
    assert code == 0 and summary["stored"] == len(lines)
    assert set(_stored(db, tenant)) == {json.loads(line)["id"] for line in lines}
    # the same file read as another format is rejected, and nothing more is stored
    code, summary = _run(
        settings, "ingest", str(path), "--tenant", str(tenant.id), "--format", "suricata"
    )
    assert code == 1 and summary["errors"] == len(lines)
    assert len(_stored(db, tenant)) == len(lines)
