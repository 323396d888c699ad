"""The job handlers a worker runs, by job kind: SOAR runs and their timers."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from muster.clock import Clock
from muster.config import Settings
from muster.db.engine import Database
from muster.soar import engine
from muster.soar.runner import Expect, FinishJob, Runner
from muster.soar.transitions import RUN, TIMEOUT, WAKE
from muster.worker.jobs import ClaimedJob, LeaseLost, complete
from muster.worker.loop import Handler


def all_handlers(db: Database, settings: Settings, clock: Clock) -> dict[str, Handler]:
    """Every handler this build knows, keyed by job kind."""
    runner = Runner(db, settings, clock)

    def finisher(job: ClaimedJob) -> FinishJob:
        def finish(session: Session) -> None:
            if not complete(session, job.id, job.locked_by, now=clock.now()):
                raise LeaseLost(job.id)

        return finish

    def ids(job: ClaimedJob) -> tuple[uuid.UUID, uuid.UUID]:
        assert job.tenant_id is not None
        return job.tenant_id, uuid.UUID(str(job.payload["processId"]))

    def run(job: ClaimedJob, now: datetime) -> None:
        tenant_id, process_id = ids(job)
        runner.advance(tenant_id, process_id, finisher(job))

    def timeout(job: ClaimedJob, now: datetime) -> None:
        tenant_id, process_id = ids(job)
        expect = Expect("WAITING_INPUT", int(job.payload["token"]))
        runner.advance(tenant_id, process_id, finisher(job), event=engine.TimedOut(), expect=expect)

    def wake(job: ClaimedJob, now: datetime) -> None:
        tenant_id, process_id = ids(job)
        expect = Expect("SLEEPING", int(job.payload["token"]))
        runner.advance(tenant_id, process_id, finisher(job), event=engine.Done(), expect=expect)

    return {RUN: run, TIMEOUT: timeout, WAKE: wake}
