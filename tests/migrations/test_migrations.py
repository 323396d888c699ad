"""Migrations on empty databases: upgrade from nothing, metadata == migrated schema, round trip.

Runs on a fresh SQLite file and on a fresh PostgreSQL schema of its own (skipped when no
server answers, unless MUSTER_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from tests.conftest import REQUIRE_PG, _pg_reachable, fresh_database_url

import muster.models  # noqa: F401  (registers every table)
from muster.config import Settings
from muster.db.base import Base
from muster.db.engine import create_db_engine
from muster.db.migrate import alembic_config


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings for a database nobody has touched."""
    if request.param == "postgresql" and not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable: migration tests SKIPPED")
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with fresh_database_url(request.param, name, tmp_path_factory) as url:
        yield Settings(database_url=url)


def schema_diff(settings: Settings) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    db = create_db_engine(settings)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "render_as_batch": conn.dialect.name == "sqlite",
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        db.dispose()


def table_names(settings: Settings) -> set[str]:
    db = create_db_engine(settings)
    try:
        with db.engine.connect() as conn:
            return set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        db.dispose()


def current_revision(settings: Settings) -> str | None:
    db = create_db_engine(settings)
    try:
        with db.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        db.dispose()


def test_upgrade_from_empty_matches_the_models(empty_db: Settings) -> None:
    config = alembic_config(empty_db)
    assert table_names(empty_db) == set()

    command.upgrade(config, "head")

    assert table_names(empty_db) == set(Base.metadata.tables)
    assert current_revision(empty_db) == ScriptDirectory.from_config(config).get_current_head()
    assert schema_diff(empty_db) == []


def test_downgrade_to_base_and_up_again(empty_db: Settings) -> None:
    config = alembic_config(empty_db)
    command.upgrade(config, "head")

    command.downgrade(config, "base")
    assert table_names(empty_db) == set()
    assert current_revision(empty_db) is None

    command.upgrade(config, "head")
    assert table_names(empty_db) == set(Base.metadata.tables)
    assert schema_diff(empty_db) == []


def test_the_diff_detects_drift(empty_db: Settings) -> None:
    """Guards the comparison itself: a schema missing an index and a column is reported."""
    command.upgrade(alembic_config(empty_db), "head")
    db = create_db_engine(empty_db)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_incidents_tenant_updated"))
            conn.execute(text("ALTER TABLE comments DROP COLUMN extra"))
    finally:
        db.dispose()

    kinds = {(diff[0], _name(diff)) for diff in _flatten(schema_diff(empty_db))}

    assert ("add_index", "ix_incidents_tenant_updated") in kinds
    assert ("add_column", "extra") in kinds


def test_revisions_form_one_line_with_dated_files() -> None:
    config = alembic_config(Settings(database_url="sqlite://"))
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert revisions[-1].down_revision is None
    for rev in revisions:
        assert re.match(r"^\d{8}_", Path(rev.path).name), rev.path
        assert callable(rev.module.downgrade), f"{rev.path} has no downgrade"


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for diff in diffs:
        if isinstance(diff, list):  # column modifications come grouped
            out.extend(diff)
        else:
            out.append(diff)
    return out


def _name(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    if kind in ("add_index", "remove_index"):
        return str(diff[1].name)
    if kind in ("add_column", "remove_column"):
        return str(diff[3].name)
    if kind in ("add_table", "remove_table"):
        return str(diff[1].name)
    return repr(diff[1:3])
