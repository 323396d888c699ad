"""Placeholder; filled in by the CLI ingest/demo work."""
