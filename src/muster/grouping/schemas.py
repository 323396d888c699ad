"""Grouping rule API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

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
    """A new grouping rule. `position` orders rules (lowest first); default: last.

    `strategy` `keys` (default) groups by equal `keyFields`; `entities` joins incidents that
    share strong entities with a score of at least `threshold` and takes no key fields.
    """

    name: Name
    strategy: Literal["keys", "entities"] = "keys"
    threshold: float | None = Field(default=None, gt=0, le=10)
    key_fields: list[str] | None = Field(default=None, max_length=8)
    window_seconds: int = Field(ge=60, le=30 * 86400)
    max_gap_seconds: int | None = Field(
        default=None,
        ge=60,
        le=30 * 86400,
        description="an incident takes alerts only while its last alert is at most this old",
    )
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
    max_gap_seconds: int | None = Field(
        default=None,
        ge=60,
        le=30 * 86400,
        description="an incident takes alerts only while its last alert is at most this old",
    )
    max_alerts: int | None = Field(default=None, ge=1, le=100_000)
    position: int | None = Field(default=None, ge=0)
    enabled: bool | None = None
    filter: Text | None = None
    strategy: Literal["keys", "entities"] | None = None
    threshold: float | None = Field(default=None, gt=0, le=10)

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
    strategy: str = "keys"
    threshold: float | None = None
    max_gap_seconds: int | None = None
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_extra(cls, data: Any) -> Any:
        """`strategy`, `threshold` and `maxGapSeconds` live in the rule's `extra`."""
        extra = data.get("extra") if isinstance(data, dict) else getattr(data, "extra", None)
        if isinstance(data, dict) and "strategy" in data:
            return data
        fields = {
            name: data.get(name) if isinstance(data, dict) else getattr(data, name, None)
            for name in cls.model_fields
            if name not in ("strategy", "threshold", "max_gap_seconds")
        }
        extra = extra or {}
        return {
            **fields,
            "strategy": extra.get("strategy", "keys"),
            "threshold": extra.get("threshold"),
            "max_gap_seconds": extra.get("maxGapSeconds"),
        }
