"""Alerts: the ingest pipeline (validate, deduplicate, group) and alert reads."""
