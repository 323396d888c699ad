"""Alembic environment: the URL comes from `Settings` (or the caller's connection)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import muster.models  # noqa: F401  (registers every table)
from muster.config import Settings
from muster.db.base import Base
from muster.db.engine import create_db_engine

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    db = create_db_engine(Settings(database_url=url))
    with db.engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
