"""Grouping rule API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from muster.grouping.decision import KEY_FIELDS
from muster.schema_base import ApiModel, Name, ReadModel, Text


def _check_key_fields(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [name for name in value if name not in KEY_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown alert field {unknown[0]!r}; valid key fields: {', '.join(KEY_FIELDS)}"
        )
    if len(set(value)) != len(value):
        raise ValueError("key fields must not repeat")
    return value


class GroupingRuleCreate(ApiModel):
    """A new grouping rule. `position` orders rules (lowest first); default: last."""

    name: Name
    key_fields: list[str] = Field(min_length=1, max_length=8)
    window_seconds: int = Field(ge=60, le=30 * 86400)
    max_alerts: int = Field(default=500, ge=1, le=100_000)
    position: int | None = Field(default=None, ge=0)
    enabled: bool = True
    filter: Text | None = None

    _keys = field_validator("key_fields")(_check_key_fields)


class GroupingRuleUpdate(ApiModel):
    """Fields of a grouping rule to change."""

    name: Name | None = None
    key_fields: list[str] | None = Field(default=None, min_length=1, max_length=8)
    window_seconds: int | None = Field(default=None, ge=60, le=30 * 86400)
    max_alerts: int | None = Field(default=None, ge=1, le=100_000)
    position: int | None = Field(default=None, ge=0)
    enabled: bool | None = None
    filter: Text | None = None

    _keys = field_validator("key_fields")(_check_key_fields)


class GroupingRuleRead(ReadModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    position: int
    enabled: bool
    key_fields: list[str]
    window_seconds: int
    max_alerts: int
    filter: str | None
    created_at: datetime
    updated_at: datetime
