"""Running an action: inside the step's transaction, in a read-only transaction of its own,
or outside any with its retries."""

from __future__ import annotations

import time

from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import DomainError
from muster.soar import engine
from muster.soar.actions.base import Action, ActionContext, ActionInput


class ActionCrashed(Exception):
    """An in-transaction action raised something other than a domain error (a bug): its
    transaction is rolled back whole and the run fails in a new one."""

    def __init__(self, step_id: str, error: str) -> None:
        super().__init__(f"{step_id}: {error}")
        self.step_id = step_id
        self.error = error


def call_in_transaction(
    action: type[Action], ctx: ActionContext, params: ActionInput
) -> engine.Event:
    """Run a database action in the step's transaction. A domain error (refused before the
    action writes anything: `muster.soar.actions.base`) fails the step; anything else rolls
    the transaction back (`ActionCrashed`), so nothing is left half-written. No savepoint per
    action: one costs a flush and two round trips."""
    try:
        output = action().run(ctx, params)
    except DomainError as exc:
        return engine.Failed(exc.detail)
    except Exception as exc:
        raise ActionCrashed(ctx.step_id, f"{type(exc).__name__}: {exc}") from exc
    return engine.Done(output.model_dump(mode="json"))


def call_read_only(
    db: Database, action: type[Action], ctx: ActionContext, params: ActionInput
) -> engine.Event:
    """Run a `read_only` action in a read-only tenant transaction of its own (no lock held),
    with the same outcomes as `call_in_transaction`."""
    with unit_of_work(db, TenantContext(ctx.tenant_id), write=False) as session:
        ctx.session = session
        try:
            return call_in_transaction(action, ctx, params)
        finally:
            ctx.session = None


def call_outside(
    action: type[Action], ctx: ActionContext, params: ActionInput, retries: int
) -> engine.Event:
    """Run an outside-world action with its retries (pauses from `engine.retry_delay`);
    never raises: a failure is the step's."""
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            output = action().run(ctx, params)
            return engine.Done(output.model_dump(mode="json"))
        except action.retryable as exc:
            if attempt == attempts:
                return engine.Failed(f"{exc} (after {attempts} attempts)")
            time.sleep(engine.retry_delay(attempt).total_seconds())
        except Exception as exc:  # an action's failure fails the step, not the worker
            return engine.Failed(f"{type(exc).__name__}: {exc}")
    return engine.Failed("no attempt made")


def longest_call(action: type[Action], settings: Settings, retries: int) -> float:
    """Seconds an outside call may take with all its attempts and the pauses between them,
    plus a margin: what the job's lease must cover while it runs."""
    attempts = retries + 1
    pauses = sum(engine.retry_delay(n).total_seconds() for n in range(1, attempts))
    return attempts * action.time_limit(settings) + pauses + 5.0
