"""A `read_only` action runs between the run's write transactions: it reads with a session
of its own while the incident is not locked (so an ingest into it would not wait), its result
is applied in the next write transaction, and a bug in it fails the run cleanly."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import InvalidInput
from muster.incidents.lifecycle import Actor
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import create_incident
from muster.models import Comment, Incident, SoarProcess, SoarStepLog
from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.service import create_playbook
from muster.soar.actions.base import Action, ActionContext, ActionOutput, load_actions, register
from muster.soar.runner import Runner
from muster.soar.service import start_manually
from tests.factories import TenantKeys

ACTOR = Actor("user", "t@example.test", "tester")


class Probe(ActionOutput):
    comments: int
    incident_lockable: bool


class ProbeIncident(Action):
    """Counts the incident's comments, and tries to lock the incident from elsewhere."""

    name = "test_probe_incident"
    in_transaction: ClassVar[bool] = False
    read_only: ClassVar[bool] = True
    db: ClassVar[Database]
    refuse: ClassVar[bool] = False
    crash: ClassVar[bool] = False

    def run(self, ctx: ActionContext, params: Any) -> Probe:
        assert ctx.session is not None
        if self.refuse:
            raise InvalidInput("nothing to probe")
        if self.crash:
            raise RuntimeError("bug in the probe")
        incident_id = uuid.UUID(str(ctx.incident["id"]))
        comments = ctx.session.scalar(
            select(func.count()).select_from(Comment).where(Comment.incident_id == incident_id)
        )
        return Probe(comments=comments or 0, incident_lockable=self._lockable(incident_id))

    def _lockable(self, incident_id: uuid.UUID) -> bool:
        """Whether another writer could take the incident now (SQLite: its one write lock)."""
        if self.db.write_gate is not None:
            return not self.db.write_gate.locked()
        with self.db.engine.connect() as other:
            try:
                other.execute(
                    text("SELECT 1 FROM incidents WHERE id = :id FOR NO KEY UPDATE NOWAIT"),
                    {"id": incident_id},
                )
            except OperationalError:  # lock_not_available
                return False
            return True


register(ProbeIncident)


def start(db: Database, tenant: TenantKeys, clock: SystemClock) -> tuple[uuid.UUID, uuid.UUID]:
    """A run of `comment → probe → note the probe's count` (on error: tag), not yet advanced."""
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        name = f"probe-{uuid.uuid4().hex[:6]}"
        steps = [
            {
                "id": "first",
                "kind": "action",
                "action": "comment",
                "params": {"body": "before the probe"},
                "next": "probe",
            },
            {
                "id": "probe",
                "kind": "action",
                "action": "test_probe_incident",
                "next": "note",
                "onError": "failed",
            },
            {
                "id": "note",
                "kind": "action",
                "action": "comment",
                "params": {"body": "probe saw {{ memory.probe.comments }} comment(s)"},
            },
            {"id": "failed", "kind": "action", "action": "add_tags", "params": {"tags": ["x"]}},
        ]
        definition = {"name": name, "trigger": "manual", "steps": steps}
        create_playbook(session, PlaybookDefinition.model_validate(definition), ACTOR, clock.now())
        incident = create_incident(session, IncidentCreate(description="probe"), ACTOR, clock.now())
        process = start_manually(session, incident.id, name, ACTOR, clock.now())
        return incident.id, process.id


def advance(
    db: Database, settings: Settings, tenant: TenantKeys, **probe: bool
) -> tuple[uuid.UUID, uuid.UUID]:
    """Start a run and advance it to its end with the probe set as `probe` says."""
    ProbeIncident.db, ProbeIncident.refuse, ProbeIncident.crash = db, False, False
    for name, value in probe.items():
        setattr(ProbeIncident, name, value)
    clock = SystemClock()
    incident_id, process_id = start(db, tenant, clock)
    finished: list[bool] = []
    Runner(db, settings, clock, actions=load_actions()).advance(
        tenant.id, process_id, lambda _session: finished.append(True)
    )
    assert finished == [True]
    return incident_id, process_id


def logged(db: Database, tenant: TenantKeys, process_id: uuid.UUID) -> list[SoarStepLog]:
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        return list(
            session.scalars(
                select(SoarStepLog)
                .where(SoarStepLog.process_id == process_id)
                .order_by(SoarStepLog.started_at, SoarStepLog.id)
            )
        )


def test_a_read_only_action_reads_committed_steps_without_the_incident_locked(
    db: Database, settings: Settings, tenant: TenantKeys
) -> None:
    incident_id, process_id = advance(db, settings, tenant)
    steps = logged(db, tenant, process_id)
    assert [(s.step_id, s.outcome) for s in steps] == [
        ("first", "ok"),
        ("probe", "ok"),
        ("note", "ok"),
    ]
    # the comment of the step before was committed, and nothing held the incident meanwhile
    assert steps[1].outputs == {"comments": 1, "incident_lockable": True}
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        bodies = session.scalars(
            select(Comment.body)
            .where(Comment.incident_id == incident_id)
            .order_by(Comment.created_at, Comment.id)
        ).all()
        process = session.get_one(SoarProcess, process_id)
    assert bodies == ["before the probe", "probe saw 1 comment(s)"]
    assert process.status == "FINISHED"


def test_a_refusal_fails_the_step_and_a_bug_fails_the_run(
    db: Database, settings: Settings, tenant: TenantKeys
) -> None:
    _, refused = advance(db, settings, tenant, refuse=True)
    assert [(s.step_id, s.outcome) for s in logged(db, tenant, refused)] == [
        ("first", "ok"),
        ("probe", "error"),
        ("failed", "ok"),
    ]
    incident_id, crashed = advance(db, settings, tenant, crash=True)
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        process = session.get_one(SoarProcess, crashed)
        incident = session.get_one(Incident, incident_id)
        assert process.status == "FAILED" and "bug in the probe" in (process.error or "")
        assert process.current_step_id == "probe"  # the step before it stays done
        assert incident.soar_status == "FAILED"
    assert [(s.step_id, s.outcome) for s in logged(db, tenant, crashed)] == [
        ("first", "ok"),
        ("probe", "error"),
    ]
