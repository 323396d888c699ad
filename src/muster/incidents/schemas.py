"""Incident API schemas: the seed's Incident resource, plus number, comments and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator

from muster.alerts.schemas import AlertRead
from muster.attack import normalise_tactic, normalise_technique
from muster.models import Incident
from muster.models.enums import IncidentStatus, Resolution, SoarStatus
from muster.schema_base import ApiModel, ReadModel, ShortText, Text
from muster.sla.clock import SlaState
from muster.sla.service import SlaView

IncidentSeverity = Annotated[int, Field(ge=1, le=4, description="1 Informational .. 4 High")]
Tags = Annotated[list[ShortText], Field(max_length=100)]
# DESIGN.md §1 spells it `excludeFromSLA`, which the camelCase generator would not produce.
EXCLUDE_FROM_SLA = "excludeFromSLA"


class _MitreInput(ApiModel):
    mitre_tactic: Annotated[str, Field(max_length=64)] | None = None
    mitre_technique: Annotated[str, Field(max_length=256)] | None = None

    @field_validator("mitre_tactic", mode="after")
    @classmethod
    def _tactic(cls, value: str | None) -> str | None:
        return normalise_tactic(value) if value else None

    @field_validator("mitre_technique", mode="after")
    @classmethod
    def _technique(cls, value: str | None) -> str | None:
        return normalise_technique(value) if value else None


class IncidentCreate(_MitreInput):
    """A manual incident; `alertIds` moves existing alerts into it."""

    description: Annotated[Text, Field(min_length=1)]
    details: Text = ""
    severity: IncidentSeverity = 3
    assignee: ShortText | None = None
    tags: Tags = []
    grouping_allowed: bool = False
    exclude_from_sla: bool = Field(False, alias=EXCLUDE_FROM_SLA)
    alert_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] = []


class IncidentUpdate(_MitreInput):
    """Fields to change; absent fields stay, `null` clears (assignee: unassign)."""

    description: Annotated[Text, Field(min_length=1)] | None = None
    details: Text | None = None
    severity: IncidentSeverity | None = None
    assignee: ShortText | None = None
    status: IncidentStatus | None = None
    resolution: Resolution | None = None
    resolution_reason: (
        Annotated[
            str,
            Field(
                max_length=64, description="why (docs/lifecycle.md#verdicts), e.g. InaccurateData"
            ),
        ]
        | None
    ) = None
    resolution_comment: Text | None = None
    grouping_allowed: bool | None = None
    exclude_from_sla: bool | None = Field(None, alias=EXCLUDE_FROM_SLA)
    tags: Tags | None = None


class TenantRef(ReadModel):
    id: uuid.UUID
    name: str


class IncidentListItem(ReadModel):
    """An incident in a list: every seed field but `alerts`, which is a count here."""

    id: uuid.UUID
    number: int
    incident_hash: str
    description: str
    details: str
    severity: int
    assignee: str | None
    assignee_name: str | None
    status: IncidentStatus
    resolution: Resolution | None
    resolution_reason: str | None = None
    resolution_comment: str | None
    source: str
    mitre_tactic: str | None
    mitre_technique: str | None
    grouping_allowed: bool
    exclude_from_sla: bool = Field(alias=EXCLUDE_FROM_SLA)
    responded_at: datetime | None
    resolved_at: datetime | None
    tags: list[str]
    soar_process_id: uuid.UUID | None
    soar_status: SoarStatus
    soar_timeout: datetime | None
    alert_count: int
    tenant_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    sla_state: SlaState | None = Field(
        None,
        description="ok, at_risk, breached, met or excluded (docs/sla.md), at the time of the "
        "request; null only where an incident is shown outside a request (playbook templates)",
    )
    sla_response_due_at: datetime | None = Field(
        None,
        validation_alias=AliasChoices("sla_response_due_at", "slaResponseDueAt", "response_due_at"),
        description="when the response target falls due (respondedAt)",
    )
    sla_resolution_due_at: datetime | None = Field(
        None,
        validation_alias=AliasChoices(
            "sla_resolution_due_at", "slaResolutionDueAt", "resolution_due_at"
        ),
        description="when the resolution target falls due (resolvedAt)",
    )

    @classmethod
    def of(cls, incident: Incident, sla: SlaView) -> IncidentListItem:
        """The list view of an incident, with its SLA state as `sla` sees it."""
        item = cls.model_validate(incident)
        item.sla_state = sla.state_of(incident)
        return item


class IncidentRead(IncidentListItem):
    """One incident with its alerts (without their raw payloads) and tenant."""

    alerts: list[AlertRead]
    tenant: TenantRef
    soar_process: dict[str, Any] | None = None
    version: int


class IncidentPage(ReadModel):
    items: list[IncidentListItem]
    next_cursor: str | None


class CommentCreate(ApiModel):
    body: Annotated[Text, Field(min_length=1)]


class CommentRead(ReadModel):
    id: uuid.UUID
    incident_id: uuid.UUID
    author: str
    author_name: str
    author_type: str
    body: str
    created_at: datetime
    updated_at: datetime | None = None


class TimelineEntry(ReadModel):
    id: uuid.UUID
    action: str
    actor: str
    actor_type: str
    changes: dict[str, Any]
    reason: str | None
    created_at: datetime


class MergeRequest(ApiModel):
    """Merge these incidents into the one in the path."""

    incident_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=100)]
