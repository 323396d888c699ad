"""A worker that has lost its job (another worker took it over) commits nothing of the run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from muster.alerts.ingest import ingest
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.lifecycle import Actor
from muster.models import Job, SoarProcess, SoarStepLog
from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.service import create_playbook
from muster.soar.transitions import RUN
from muster.worker.handlers import all_handlers
from muster.worker.jobs import JOBS, ClaimedJob, LeaseLost
from tests.factories import TenantKeys, alert

ACTOR = Actor("user", "t@example.test", "tester")


def test_a_taken_over_job_rolls_back_the_old_workers_step(
    db: Database, settings: Settings, tenant: TenantKeys
) -> None:
    clock = SystemClock()
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        create_playbook(
            session,
            PlaybookDefinition.model_validate(
                {
                    "name": "tag-then-call",
                    # the outside call ends the first transaction: without the lease check
                    # the old worker would commit the tag step before it
                    "steps": [
                        {
                            "id": "a",
                            "kind": "action",
                            "action": "add_tags",
                            "params": {"tags": ["a"]},
                            "next": "call",
                        },
                        {
                            "id": "call",
                            "kind": "action",
                            "action": "http_request",
                            "retries": 0,
                            "params": {"url": "http://127.0.0.1:9/"},
                            "next": "b",
                        },
                        {"id": "b", "kind": "end"},
                    ],
                }
            ),
            ACTOR,
            clock.now(),
        )
        ingest(session, [alert(severity=3)], ACTOR, clock.now())
        process = session.scalars(select(SoarProcess)).one()
        now = clock.now()
        # worker A claimed the run's job; its lease ran out and worker B holds it now. Set in
        # the transaction that queued the job, so no other worker sharing the test database
        # (an API test server's embedded one) can ever claim it.
        session.connection().execute(
            update(JOBS)
            .where(JOBS.c.kind == RUN, JOBS.c.tenant_id == tenant.id)
            .values(state="running", locked_by="worker-b", locked_until=now + timedelta(hours=1))
        )
    with unit_of_work(db, SystemContext()) as session:
        job = session.scalars(select(Job).where(Job.kind == RUN, Job.tenant_id == tenant.id)).one()
    held_by_a = ClaimedJob(
        job.id, RUN, dict(job.payload), tenant.id, 1, job.run_at, "worker-a", now
    )
    handler = all_handlers(db, settings, clock)[RUN]
    with pytest.raises(LeaseLost):
        handler(held_by_a, now)
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        after = session.get(SoarProcess, process.id)
        assert after is not None and after.status == "PENDING" and after.steps_run == 0
        assert (
            session.scalars(select(SoarStepLog).where(SoarStepLog.process_id == process.id)).all()
            == []
        )
