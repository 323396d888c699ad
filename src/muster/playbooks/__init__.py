"""Playbooks: definitions, graph checks, YAML, versions and selection."""
