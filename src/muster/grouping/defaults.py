"""The rule set every new tenant starts with (documented in docs/grouping.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from muster.grouping.decision import ENTITIES, KEYS


@dataclass(frozen=True, slots=True)
class DefaultRule:
    name: str
    key_fields: tuple[str, ...]
    window: timedelta
    max_alerts: int
    strategy: str = KEYS
    threshold: float | None = None
    enabled: bool = True


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule(
        "Same detection on the same host",
        ("source", "ruleName", "hostname"),
        timedelta(hours=24),
        500,
    ),
    DefaultRule(
        "Same detection for the same user",
        ("source", "ruleName", "username"),
        timedelta(hours=24),
        500,
    ),
    DefaultRule(
        "Same detection from the same source address",
        ("source", "ruleName", "srcIp"),
        timedelta(hours=6),
        500,
    ),
    # Off until a tenant turns it on: it joins different detections on one subject, which
    # changes what the key rules above would have opened (docs/grouping.md, "Shared entities").
    DefaultRule(
        "Shared entities",
        (),
        timedelta(hours=24),
        500,
        strategy=ENTITIES,
        threshold=0.5,
        enabled=False,
    ),
    DefaultRule("Same detection (burst)", ("source", "ruleName"), timedelta(hours=1), 100),
)
