"""The built-in actions: importing this module registers every one of them."""

from __future__ import annotations

from muster.soar.actions import (
    enrich_actions,
    http_actions,
    incident_actions,
    label_actions,
    memory_actions,
    notify_actions,
)

__all__ = [
    "enrich_actions",
    "http_actions",
    "incident_actions",
    "label_actions",
    "memory_actions",
    "notify_actions",
]
