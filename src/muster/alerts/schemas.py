"""Alert API schemas. Vanguard's alert fields, plus externalId, entities and raw."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from muster.attack import normalise_tactic, normalise_technique
from muster.clock import as_utc
from muster.schema_base import ApiModel, ReadModel, ShortText, Text

Port = Annotated[int, Field(ge=0, le=65535)]
EntityType = Literal[
    "account",
    "host",
    "ip",
    "file",
    "filehash",
    "process",
    "url",
    "mailbox",
    "domain",
    "registry",
    "cloudapp",
    "other",
]


class Entity(ApiModel):
    """A typed thing the alert is about; any further attributes are kept as given."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    type: EntityType
    value: ShortText | None = None


class AlertIn(ApiModel):
    """One alert as a detection product sends it. Unknown fields are kept in `raw`."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", str_strip_whitespace=True
    )

    rule_name: Annotated[str, Field(min_length=1)] = Field(description="detection rule name")
    source: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="product that raised the alert"
    )
    external_id: ShortText | None = Field(None, description="sender's id; makes ingest idempotent")
    description: Text = ""
    category: Annotated[str, Field(max_length=200)] = ""
    severity: Annotated[int, Field(ge=0, le=4)] = 0
    action: Annotated[str, Field(max_length=64)] = "Detected"
    hostname: ShortText | None = None
    src_hostname: ShortText | None = None
    src_ip: Annotated[str, Field(max_length=64)] | None = None
    src_port: Port | None = None
    dest_hostname: ShortText | None = None
    dest_ip: Annotated[str, Field(max_length=64)] | None = None
    dest_port: Port | None = None
    username: ShortText | None = None
    initiated_by: Text | None = None
    initiator_path: Text | None = None
    initiator_cmd: Text | None = None
    initiator_signature: Text | None = None
    initiator_signer: Text | None = None
    initiator_hash: Annotated[str, Field(max_length=256)] | None = None
    mitre_tactic: Annotated[str, Field(max_length=64)] | None = None
    mitre_technique: Annotated[str, Field(max_length=256)] | None = None
    tags: Annotated[list[ShortText], Field(max_length=100)] = []
    raw_event_dataset: Annotated[str, Field(max_length=200)] | None = None
    raw_event_id: ShortText | None = None
    entities: Annotated[list[Entity], Field(max_length=1000)] = []
    created_at: datetime | None = Field(None, description="event time; defaults to receipt")

    @field_validator(
        "rule_name",
        "source",
        "description",
        "category",
        "action",
        "src_ip",
        "dest_ip",
        "initiator_hash",
        "raw_event_dataset",
        mode="after",
    )
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("created_at", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """Event times are UTC; a time without an offset is taken to be UTC."""
        return as_utc(value) if value is not None else None

    @field_validator("mitre_tactic", mode="after")
    @classmethod
    def _tactic(cls, value: str | None) -> str | None:
        return normalise_tactic(value) if value else None

    @field_validator("mitre_technique", mode="after")
    @classmethod
    def _technique(cls, value: str | None) -> str | None:
        return normalise_technique(value) if value else None


class AlertRead(ReadModel):
    """An alert as stored, without its raw payload (lists never load it)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    incident_id: uuid.UUID | None
    external_id: str | None
    rule_name: str
    description: str
    source: str
    category: str
    severity: int
    action: str
    hostname: str | None
    src_hostname: str | None
    src_ip: str | None
    src_port: int | None
    dest_hostname: str | None
    dest_ip: str | None
    dest_port: int | None
    username: str | None
    initiated_by: str | None
    initiator_path: str | None
    initiator_cmd: str | None
    initiator_signature: str | None
    initiator_signer: str | None
    initiator_hash: str | None
    mitre_tactic: str | None
    mitre_technique: str | None
    tags: list[str]
    raw_event_dataset: str | None
    raw_event_id: str | None
    entities: list[dict[str, Any]]
    occurrences: int
    last_seen_at: datetime
    grouping_reason: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class AlertDetail(AlertRead):
    """One alert with the original payload exactly as the sender sent it."""

    raw: Any


class IngestItem(ReadModel):
    """What happened to one alert of a batch, in the order sent."""

    alert_id: uuid.UUID
    incident_id: uuid.UUID | None
    incident_hash: str | None
    duplicate: bool
    grouping_reason: dict[str, Any] | None


class IngestResult(ReadModel):
    """The answer to an ingest: one item per alert, and totals."""

    items: list[IngestItem]
    alerts: int
    duplicates: int
    incidents_created: int


class AlertMove(ApiModel):
    """Move an alert into another incident."""

    incident_id: uuid.UUID


class AlertPage(ReadModel):
    items: list[AlertRead]
    next_cursor: str | None
