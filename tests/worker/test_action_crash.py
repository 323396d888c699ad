"""An in-transaction action that crashes (a bug, not a domain error) rolls its transaction
back whole and fails the run: nothing half-written, the worker unharmed."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import select

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.comments import list_comments
from muster.incidents.lifecycle import Actor
from muster.incidents.schemas import IncidentCreate
from muster.incidents.service import create_incident
from muster.models import Incident, SoarProcess, SoarStepLog
from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.service import create_playbook
from muster.soar.actions.base import Action, ActionContext, ActionOutput, load_actions, register
from muster.soar.actions.incident_actions import AddComment
from muster.soar.runner import Runner
from muster.soar.service import start_manually
from tests.factories import TenantKeys

ACTOR = Actor("user", "t@example.test", "tester")


@register
class CommentThenCrash(Action):
    """Writes a comment, then fails with a bug."""

    name = "test_comment_then_crash"
    in_transaction: ClassVar[bool] = True

    def run(self, ctx: ActionContext, params: Any) -> ActionOutput:
        AddComment().run(ctx, AddComment.Input.model_validate({"body": "half-written"}))
        raise RuntimeError("bug in the action")


def test_a_crashing_action_fails_the_run_and_leaves_nothing_half_written(
    db: Database, settings: Settings, tenant: TenantKeys
) -> None:
    clock = SystemClock()
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        create_playbook(
            session,
            PlaybookDefinition.model_validate(
                {
                    "name": "crashes",
                    "trigger": "manual",
                    "steps": [
                        {
                            "id": "tag",
                            "kind": "action",
                            "action": "add_tags",
                            "params": {"tags": ["before-crash"]},
                            "next": "boom",
                        },
                        {"id": "boom", "kind": "action", "action": "test_comment_then_crash"},
                    ],
                }
            ),
            ACTOR,
            clock.now(),
        )
        incident = create_incident(session, IncidentCreate(description="crash"), ACTOR, clock.now())
        process_id = start_manually(session, incident.id, "crashes", ACTOR, clock.now()).id
    runner = Runner(db, settings, clock, actions=load_actions())
    finished: list[bool] = []
    runner.advance(tenant.id, process_id, lambda _session: finished.append(True))
    assert finished == [True]  # the job is completed: the run ended, the worker goes on
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        process = session.get(SoarProcess, process_id)
        found = session.get(Incident, incident.id)
        assert process is not None and found is not None
        assert process.status == "FAILED" and "bug in the action" in (process.error or "")
        assert process.current_step_id == "tag"  # the crashed transaction's steps left nothing
        assert "before-crash" not in found.tags
        assert all(c.body != "half-written" for c in list_comments(session, incident.id))
        logged = session.scalars(
            select(SoarStepLog).where(SoarStepLog.process_id == process_id)
        ).all()
        assert [(s.step_id, s.outcome) for s in logged] == [("boom", "error")]
        assert found.soar_status == "FAILED"
