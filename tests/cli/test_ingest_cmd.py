"""`muster ingest FILE`: streamed batches into the database or a server, with honest counts."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from tests.factories import TenantKeys
from typer.testing import CliRunner, Result

from muster.alerts import stream
from muster.cli.main import app
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.demo.generator import generate
from muster.models import Alert, Incident
from muster.models.enums import Role

Invoke = Callable[..., Result]


@pytest.fixture()
def muster(settings: Settings) -> Invoke:
    """Run `muster ...` in-process against this backend's database."""
    runner = CliRunner()

    def invoke(*args: str, stdin: bytes | None = None) -> Result:
        env = {"MUSTER_DATABASE_URL": settings.database_url}
        return runner.invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)

    return invoke


def _alerts(count: int, seed: int = 3) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = generate(seed, 1, count, datetime.now(UTC))["tenants"][0][
        "alerts"
    ]
    return alerts


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _summary(result: Result) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def _stored(db: Database, tenant: TenantKeys) -> tuple[int, int, int]:
    """(alerts, sum of occurrences, incidents) stored for the tenant."""
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        alerts = session.scalar(select(func.count(Alert.id))) or 0
        seen = session.scalar(select(func.sum(Alert.occurrences))) or 0
        incidents = session.scalar(select(func.count(Incident.id))) or 0
    return int(alerts), int(seen), int(incidents)


def _check_db_matches(db: Database, tenant: TenantKeys, summary: dict[str, Any]) -> None:
    alerts, seen, incidents = _stored(db, tenant)
    assert alerts == summary["stored"]
    assert seen == summary["stored"] + summary["duplicates"]
    assert incidents == summary["incidentsCreated"]


def test_json_array_in_several_batches(
    muster: Invoke, db: Database, tenant: TenantKeys, tmp_path: Path
) -> None:
    alerts = _alerts(3000)
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps(alerts, option=orjson.OPT_INDENT_2))
    result = muster(
        "ingest", str(path), "--tenant", str(tenant.id), "--batch-size", "400", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = _summary(result)
    assert summary["alerts"] == 3000 and summary["batches"] == 8 and summary["errors"] == 0
    assert summary["stored"] == len({a["externalId"] for a in alerts})
    assert 0 < summary["incidentsCreated"] < summary["stored"], "bursts were grouped"
    _check_db_matches(db, tenant, summary)
    assert "incidents created" in result.stderr


def test_json_lines_then_reingest_is_all_duplicates(
    muster: Invoke, db: Database, tenant: TenantKeys, tmp_path: Path
) -> None:
    alerts = _alerts(2500, seed=4)
    path = _write_lines(tmp_path / "alerts.jsonl", [orjson.dumps(a) for a in alerts])
    first = muster("ingest", str(path), "--tenant", str(tenant.id), "--batch-size", "300", "--json")
    assert first.exit_code == 0, first.output
    summary = _summary(first)
    assert summary["batches"] == 9 and summary["duplicates"] == 2500 - summary["stored"]
    _check_db_matches(db, tenant, summary)
    before = _stored(db, tenant)

    again = muster("ingest", str(path), "--tenant", str(tenant.id), "--json")
    assert again.exit_code == 0, again.output
    repeat = _summary(again)
    assert repeat["stored"] == 0 and repeat["incidentsCreated"] == 0
    assert repeat["duplicates"] == 2500
    assert _stored(db, tenant)[::2] == before[::2], "no new alerts, no new incidents"


def _file_with_errors(tmp_path: Path, alerts: list[dict[str, Any]]) -> Path:
    """Alert 1200 is invalid (batch 3 of 500); line 701 is not JSON."""
    bad = dict(alerts[1200], externalId="invalid-1", severity=9)
    lines = [orjson.dumps(a) for a in alerts[:1200]] + [orjson.dumps(bad)]
    lines += [orjson.dumps(a) for a in alerts[1201:]]
    lines.insert(700, b'{"ruleName": "cut off", "source": ')
    return _write_lines(tmp_path / "bad.jsonl", lines)


def test_bad_line_and_bad_batch_are_reported_the_rest_is_stored(
    muster: Invoke, db: Database, tenant: TenantKeys, tmp_path: Path
) -> None:
    alerts = _alerts(2000, seed=5)
    path = _file_with_errors(tmp_path, alerts)
    result = muster(
        "ingest", str(path), "--tenant", str(tenant.id), "--batch-size", "500", "--json"
    )
    assert result.exit_code == 1
    assert "line 701: malformed JSON" in result.stderr
    assert "batch 3 (line 1002 to line 1501) rejected" in result.stderr
    assert "line 1202, field severity" in result.stderr
    summary = _summary(result)
    assert summary["errors"] == 1 + 500 and summary["failedBatches"] == 1
    assert summary["alerts"] == 2001
    kept = alerts[:1000] + alerts[1500:]
    assert summary["stored"] == len({a["externalId"] for a in kept})
    _check_db_matches(db, tenant, summary)


def test_stop_on_error_stores_what_came_before(
    muster: Invoke, db: Database, tenant: TenantKeys, tmp_path: Path
) -> None:
    alerts = _alerts(2000, seed=6)
    path = _file_with_errors(tmp_path, alerts)
    result = muster(
        "ingest",
        str(path),
        "--tenant",
        str(tenant.id),
        "--batch-size",
        "500",
        "--stop-on-error",
        "--json",
    )
    assert result.exit_code == 1
    assert "stopped at line 701" in result.stderr
    summary = _summary(result)
    assert summary["stored"] == len({a["externalId"] for a in alerts[:700]})
    assert summary["batches"] == 2
    _check_db_matches(db, tenant, summary)


def test_stdin_and_blank_lines(muster: Invoke, db: Database, tenant: TenantKeys) -> None:
    alerts = _alerts(50, seed=8)
    body = b"\n\n" + b"\n\n".join(orjson.dumps(a) for a in alerts) + b"\n"
    result = muster("ingest", "-", "--tenant", str(tenant.id), "--json", stdin=body)
    assert result.exit_code == 0, result.output
    summary = _summary(result)
    assert summary["alerts"] == 50
    _check_db_matches(db, tenant, summary)


def test_over_http_to_a_running_server(
    muster: Invoke, db: Database, tenant: TenantKeys, base_url: str, tmp_path: Path
) -> None:
    alerts = _alerts(1500, seed=9)
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps(alerts))
    key = tenant.keys[Role.ANALYST]
    result = muster(
        "ingest", str(path), "--url", base_url, "--key", key, "--batch-size", "400", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = _summary(result)
    assert summary["batches"] == 4 and summary["stored"] == len({a["externalId"] for a in alerts})
    _check_db_matches(db, tenant, summary)

    bad = [dict(alerts[0], externalId="http-bad", severity="high")]
    rejected = tmp_path / "rejected.json"
    rejected.write_bytes(orjson.dumps(bad + alerts[:3]))
    again = muster("ingest", str(rejected), "--url", base_url, "--key", key, "--json")
    assert again.exit_code == 1
    assert "item 1, field severity" in again.stderr
    assert _summary(again)["errors"] == 4


def test_fatal_problems_stop_at_once(
    muster: Invoke, tenant: TenantKeys, base_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "alerts.json"
    path.write_bytes(orjson.dumps(_alerts(20)))
    wrong_key = muster("ingest", str(path), "--url", base_url, "--key", "mk_nope", "--json")
    assert wrong_key.exit_code == 1
    assert "aborted" in wrong_key.stderr and "401" in wrong_key.stderr
    unknown = muster("ingest", str(path), "--tenant", "00000000-0000-4000-8000-000000000000")
    assert unknown.exit_code == 1 and "does not exist" in unknown.stderr
    assert muster("ingest", str(path)).exit_code == 2, "a tenant or --url is required"
    assert (
        muster("ingest", str(tmp_path / "missing.json"), "--tenant", str(tenant.id)).exit_code == 2
    )


def _read(data: bytes) -> list[stream.Record | stream.Malformed]:
    return list(stream.read_records(io.BufferedReader(io.BytesIO(data))))


def test_reader_numbers_json_lines_and_skips_bom_and_blank_lines() -> None:
    lines = _read(b'\xef\xbb\xbf\n  \n{"a": 1.5}\n\n[1]\n{"b": \n')
    assert lines[:2] == [
        stream.Record("line 3", {"a": 1.5}),
        stream.Malformed("line 5", "expected an alert object, got list"),
    ]
    last = lines[2]
    assert isinstance(last, stream.Malformed) and last.where == "line 6"
    assert last.message.startswith("malformed JSON at column") and len(lines) == 3


def test_reader_streams_a_json_array_with_floats_not_decimals() -> None:
    items = _read(b' \n [{"a": 1.25}, "x", {"b": [2]}, {"c": ')
    assert items[:3] == [
        stream.Record("item 1", {"a": 1.25}),
        stream.Malformed("item 2", "expected an alert object, got str"),
        stream.Record("item 3", {"b": [2]}),
    ]
    first, cut = items[0], items[3]
    assert isinstance(first, stream.Record) and type(first.payload["a"]) is float
    assert isinstance(cut, stream.Malformed) and cut.where == "after item 3"
    assert _read(b"") == [] and _read(b"[]") == []
