"""The unit of work: the only constructor of sessions; its owner commits once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from muster.db.engine import Database
from muster.db.tenancy import Context


@contextmanager
def unit_of_work(db: Database, ctx: Context, *, write: bool = False) -> Iterator[Session]:
    """Yield a session bound to `ctx`; commit when the block succeeds, roll back otherwise.

    `write=True` takes SQLite's write lock up front (BEGIN IMMEDIATE, behind the in-process
    gate) so a transaction never fails half-way on a lock upgrade.
    """
    gate = db.write_gate if write else None
    if gate is not None:
        gate.acquire()
    session = db.session()
    session.info["ctx"] = ctx
    try:
        if write and db.dialect == "sqlite":
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if gate is not None:
            gate.release()
