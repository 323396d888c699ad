"""Run Alembic migrations from code (CLI, tests, `make run`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from muster.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(settings: Settings) -> Config:
    """The Alembic config for this checkout, pointed at `settings.database_url`."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the database to `revision`."""
    command.upgrade(alembic_config(settings), revision)
