"""A real server on a SQLite database of its own, for the hostile-input tests.

No embedded worker: webhooks and playbooks these tests create are stored but never run, so
nothing leaves the machine and no other test's server sees their jobs. Webhook URLs are
stored unresolved (private targets allowed: no DNS look-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from muster.config import Settings
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from tests.conftest import fresh_database_url, serve


@dataclass(frozen=True)
class OwnServer:
    """The server's base URL, settings and database."""

    base_url: str
    settings: Settings
    db: Database


@contextmanager
def own_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, **overrides: Any
) -> Iterator[OwnServer]:
    """Serve a fresh, migrated SQLite database with `overrides` applied to the settings."""
    with fresh_database_url("sqlite", name, tmp_path_factory) as url:
        settings = Settings(
            database_url=url,
            embedded_worker=False,
            webhook_allow_private_targets=True,
            gc_young_collection_every=0,
            **overrides,
        )
        upgrade(settings)
        db = create_db_engine(settings)
        try:
            with serve(settings) as base_url:
                yield OwnServer(base_url, settings, db)
        finally:
            db.dispose()
