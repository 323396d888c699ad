"""What a worker runs: job handlers by kind (SOAR runs and timers, webhook deliveries, e-mail)
and periodic tasks (the SLA scan)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from muster.clock import Clock
from muster.config import Settings
from muster.db.engine import Database
from muster.notify.mail.outgoing import handlers as mail_handlers
from muster.notify.webhooks.delivery import handlers as webhook_handlers
from muster.sla.scheduler import periodic_tasks as sla_periodic
from muster.soar import engine
from muster.soar.runner import Expect, FinishJob, HoldJob, Runner
from muster.soar.transitions import RUN, TIMEOUT, WAKE
from muster.worker.jobs import ClaimedJob, LeaseLost, complete, renew
from muster.worker.loop import Handler, Periodic


def all_handlers(db: Database, settings: Settings, clock: Clock) -> dict[str, Handler]:
    """Every handler this build knows, keyed by job kind."""
    runner = Runner(db, settings, clock)
    lease = timedelta(seconds=settings.job_lease_seconds)

    def holder(job: ClaimedJob) -> HoldJob:
        def hold(session: Session, seconds: float) -> None:
            until = clock.now() + max(lease, timedelta(seconds=seconds))
            if not renew(session, job.id, job.locked_by, until):
                raise LeaseLost(job.id)

        return hold

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
        runner.advance(tenant_id, process_id, finisher(job), hold_job=holder(job))

    def timer(status: str, event: engine.Event) -> Handler:
        """A timer's handler: `event` for a run still in `status` at the step it was set for."""

        def fire(job: ClaimedJob, now: datetime) -> None:
            tenant_id, process_id = ids(job)
            runner.advance(
                tenant_id,
                process_id,
                finisher(job),
                event=event,
                expect=Expect(status, int(job.payload["token"])),
                hold_job=holder(job),
            )

        return fire

    return {
        RUN: run,
        TIMEOUT: timer("WAITING_INPUT", engine.TimedOut()),
        WAKE: timer("SLEEPING", engine.Done()),
        **webhook_handlers(db, settings, clock),
        **mail_handlers(db, settings, clock),
    }


def all_periodic(db: Database, settings: Settings, clock: Clock) -> list[Periodic]:
    """Every periodic task this build knows."""
    return sla_periodic(db, settings, clock)
