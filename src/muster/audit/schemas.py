"""Audit log API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from muster.schema_base import ReadModel


class AuditSubject(StrEnum):
    """What an administration event is about."""

    TENANT = "tenant"
    USER = "user"
    APIKEY = "apikey"
    GROUPING_RULE = "grouping_rule"
    PLAYBOOK = "playbook"
    WEBHOOK = "webhook"
    SLA_POLICY = "sla_policy"
    ADDRESS = "address"  # a client address locked out of the console (global log)


class AuditEventRead(ReadModel):
    """One administration event: who (`actor`, `actorType`) did what (`action`) to which
    subject, when, with the values that changed (`[before, after]`; secrets never appear)."""

    id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID | None
    action: str = Field(examples=["apikey.created"])
    actor: str = Field(description="`apikey:<id>`, `user:<id>`, `cli:<os user>` or `system`")
    actor_type: str = Field(description="`apikey`, `user` or `system` (the CLI, muster itself)")
    changes: dict[str, Any]
    reason: str | None
    created_at: datetime


class AuditPage(ReadModel):
    """Administration events, newest first."""

    items: list[AuditEventRead]
    next_cursor: str | None
