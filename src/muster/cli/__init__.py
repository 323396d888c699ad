"""The `muster` command line: serve, migrate, administer, ingest and generate demo data."""

from muster.cli.main import app, main

__all__ = ["app", "main"]
