"""The `muster` command line: serve, migrate, administer, ingest and generate demo data."""

# Importing the command modules registers their commands on `app`.
from muster.cli import bootstrap, demo, export_cmd, ingest_cmd, mail_cmd
from muster.cli.main import app, main

__all__ = ["app", "bootstrap", "demo", "export_cmd", "ingest_cmd", "mail_cmd", "main"]
