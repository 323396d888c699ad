"""`muster demo`: demo tenants with members, grouped incidents and analyst work, per seed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select
from typer.testing import CliRunner

import muster.cli.demo  # noqa: F401  (registers the command)
from muster.cli.main import app
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models import Alert, Comment, Incident, Tenant
from muster.models.enums import IncidentStatus
from muster.tenants.users import members

runner = CliRunner()


def _demo(settings: Settings, *args: str) -> dict[str, Any]:
    env = {"MUSTER_DATABASE_URL": settings.database_url}
    result = runner.invoke(app, ["demo", *args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_demo_builds_tenants_incidents_and_work(settings: Settings, db: Database) -> None:
    summary = _demo(settings, "--tenants", "2", "--alerts", "600", "--seed", "11")
    assert len(summary["tenants"]) == 2 and summary["alerts"] == 600
    assert summary["duplicates"] > 0 and summary["multiAlertIncidents"] > 0
    for row in summary["tenants"]:
        tenant_id = uuid.UUID(row["id"])
        with unit_of_work(db, SystemContext()) as session:
            tenant = session.get(Tenant, tenant_id)
            assert tenant is not None and tenant.demo and tenant.name == row["name"]
        _check_tenant(db, tenant_id, row)


def _check_tenant(db: Database, tenant_id: uuid.UUID, row: dict[str, Any]) -> None:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        assert session.scalar(select(func.count(Alert.id))) == row["alerts"] - row["duplicates"]
        incidents = list(session.scalars(select(Incident)))
        assert len(incidents) == row["incidents"]
        per_incident = session.execute(
            select(Alert.incident_id, func.count(Alert.id)).group_by(Alert.incident_id)
        ).all()
        assert sum(1 for _, n in per_incident if n > 1) == row["multiAlertIncidents"] > 0
        roster = members(session)
        assert sorted(roster) == sorted(row["members"])
        statuses = {i.status for i in incidents}
        assert {IncidentStatus.OPEN, IncidentStatus.RESOLVED} <= statuses
        resolved = [i for i in incidents if i.status == IncidentStatus.RESOLVED]
        assert all(i.resolution is not None and i.resolved_at is not None for i in resolved)
        assigned = {i.assignee: i.assignee_name for i in incidents if i.assignee is not None}
        assert assigned and all(roster[email] == name for email, name in assigned.items())
        assert (session.scalar(select(func.count(Comment.id))) or 0) > 0


def test_same_seed_gives_the_same_outcome_and_runs_twice(settings: Settings) -> None:
    first = _demo(settings, "--tenants", "1", "--alerts", "300", "--seed", "5")
    second = _demo(settings, "--tenants", "1", "--alerts", "300", "--seed", "5")
    a, b = first["tenants"][0], second["tenants"][0]
    assert a["id"] != b["id"] and b["name"].startswith(a["name"].split(" (")[0])
    assert b["name"] != a["name"], "a taken name gets a suffix"
    keys = ("alerts", "duplicates", "incidents", "multiAlertIncidents", "actions")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
