"""Load a generated demo data set through the services: tenants, members, alerts, analyst work.

Each step is its own transaction: a tenant with its members, then one per batch of alerts
(through `ingest`, so deduplication and grouping run as in production), then the analysts'
lifecycle actions (through `change_incident` and `add_comment`, so the rules and the timeline
apply). Tenant names already in the database get a numeric suffix, so the demo can run twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from muster.alerts.ingest import ingest
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.demo.generator import plan_actions
from muster.incidents.comments import add_comment
from muster.incidents.lifecycle import Actor
from muster.incidents.service import change_incident
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus, Resolution, Role
from muster.tenants.schemas import TenantCreate, TenantFlags, UserCreate
from muster.tenants.service import create_tenant
from muster.tenants.users import create_user

DEMO_ACTOR = Actor("system", "cli:demo", "muster demo")
BATCH_SIZE = 1000
Progress = Callable[[str], None]


@dataclass(slots=True)
class TenantResult:
    """What the demo created in one tenant."""

    id: uuid.UUID
    name: str
    members: list[str]
    alerts: int = 0
    duplicates: int = 0
    incidents: int = 0
    multi_alert_incidents: int = 0
    actions: int = 0


@dataclass(slots=True)
class DemoResult:
    """What the demo created, per tenant and in total."""

    seed: int
    tenants: list[TenantResult] = field(default_factory=list)

    def total(self, name: str) -> int:
        """The sum of one per-tenant count (e.g. `alerts`) over all tenants."""
        return sum(int(getattr(t, name)) for t in self.tenants)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary: totals and every tenant with its id."""
        counts = ("alerts", "duplicates", "incidents", "multi_alert_incidents", "actions")
        return {
            "seed": self.seed,
            **{_camel(name): self.total(name) for name in counts},
            "tenants": [
                {_camel(k): str(v) if k == "id" else v for k, v in asdict(t).items()}
                for t in self.tenants
            ],
        }


def load(
    db: Database, dataset: Mapping[str, Any], now: datetime, progress: Progress | None = None
) -> DemoResult:
    """Create every tenant of `dataset` with its members, alerts and analyst work."""
    say = progress or (lambda _: None)
    result = DemoResult(int(dataset["seed"]))
    for index, plan in enumerate(dataset["tenants"]):
        tenant_id, name = _create_tenant(db, plan["name"], now)
        say(f"{name}: members")
        actors = _add_members(db, tenant_id, plan["members"], now)
        out = TenantResult(tenant_id, name, list(actors))
        result.tenants.append(out)
        say(f"{name}: {len(plan['alerts'])} alerts")
        _ingest_alerts(db, out, plan["alerts"], now)
        say(f"{name}: analyst work")
        numbers = _incident_numbers(db, out)
        actions = plan_actions(result.seed, index, sorted(numbers), plan["members"])
        out.actions = _work(db, tenant_id, actions, numbers, actors, now)
    return result


def _create_tenant(db: Database, wanted: str, now: datetime) -> tuple[uuid.UUID, str]:
    """A demo-flagged tenant named `wanted`, or `wanted (2)`… when the name is taken."""
    with unit_of_work(db, SystemContext(), write=True) as session:
        name, n = wanted, 1
        while session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
            n += 1
            name = f"{wanted} ({n})"
        data = TenantCreate(name=name, flags=TenantFlags(demo=True))
        tenant = create_tenant(session, data, now, actor=DEMO_ACTOR)
        return tenant.id, name


def _add_members(
    db: Database, tenant_id: uuid.UUID, members: Sequence[Mapping[str, str]], now: datetime
) -> dict[str, Actor]:
    """Make each member a user of the tenant; return them as actors, by e-mail."""
    actors: dict[str, Actor] = {}
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        for member in members:
            data = UserCreate(
                email=member["email"],
                name=member["name"],
                title=member["title"],
                role=Role(member["role"]),
            )
            user = create_user(session, data, now, by_global=True, actor=DEMO_ACTOR)
            actors[user.email] = Actor("user", f"user:{user.id}", user.name)
    return actors


def _ingest_alerts(db: Database, out: TenantResult, alerts: Sequence[Any], now: datetime) -> None:
    """Ingest in batches, one transaction each; count alerts, repeats and new incidents."""
    for start in range(0, len(alerts), BATCH_SIZE):
        batch = alerts[start : start + BATCH_SIZE]
        with unit_of_work(db, TenantContext(out.id), write=True) as session:
            report = ingest(session, batch, DEMO_ACTOR, now)
        out.alerts += len(batch)
        out.duplicates += report.duplicates
        out.incidents += report.incidents_created


def _incident_numbers(db: Database, out: TenantResult) -> dict[int, uuid.UUID]:
    """The tenant's incidents by number; also counts those holding several alerts."""
    with unit_of_work(db, TenantContext(out.id)) as session:
        rows = session.execute(select(Incident.number, Incident.id)).all()
        out.multi_alert_incidents = int(
            session.scalar(select(func.count(Incident.id)).where(Incident.alert_count > 1)) or 0
        )
    return {int(number): incident_id for number, incident_id in rows}


def _work(
    db: Database,
    tenant_id: uuid.UUID,
    actions: Sequence[Mapping[str, Any]],
    numbers: Mapping[int, uuid.UUID],
    actors: Mapping[str, Actor],
    now: datetime,
) -> int:
    """Carry out the planned steps as the planned analysts; return how many were done."""
    done = 0
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        for action in actions:
            actor = actors[action["actor"]]
            for step in action["steps"]:
                incident_id = numbers[action["number"]]
                if step["op"] == "comment":
                    add_comment(session, incident_id, step["body"], actor, now)
                else:
                    change_incident(session, incident_id, _change(step), actor, now)
                done += 1
    return done


def _change(step: Mapping[str, str]) -> dict[str, Any]:
    """The incident fields one planned step asks to change."""
    if step["op"] == "assign":
        return {"assignee": step["assignee"]}
    if step["op"] == "status":
        return {"status": IncidentStatus(step["status"])}
    return {
        "status": IncidentStatus.RESOLVED,
        "resolution": Resolution(step["resolution"]),
        "resolution_comment": step["comment"],
    }


def _camel(name: str) -> str:
    """`multi_alert_incidents` -> `multiAlertIncidents`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
