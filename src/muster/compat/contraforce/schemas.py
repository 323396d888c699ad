"""Request bodies of the ContraForce beta and v2 APIs (camelCase; unknown fields ignored, as
ContraForce's own clients send extra fields such as `source` or `commentId`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from muster.schema_base import ShortText, Text


class CfModel(BaseModel):
    """camelCase on the wire; extra fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


Take = Annotated[int, Field(ge=1, le=1000)]
Query = Annotated[ShortText, Field(max_length=200)]


class BetaIncidentsRequest(CfModel):
    """`POST /incidents`: one tenant's incidents in a time window, newest first."""

    take: Take = 50
    query: Query | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    page_token: Annotated[str, Field(max_length=2000)] | None = None
    status: ShortText | None = None
    severity: ShortText | None = None


class BetaAllIncidentsRequest(CfModel):
    """`POST /incidents/all`: every visible tenant's incidents, merged, newest first."""

    take: Take = 50
    query: Query | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    status: ShortText | None = None
    severity: ShortText | None = None
    sources: list[int] | None = None
    account_id: uuid.UUID | None = None


class StatusUpdate(CfModel):
    """UpdateIncidentStatusRequest (and the legacy body, which adds incidentId and source)."""

    status: ShortText
    comment: Text | None = None
    classification: ShortText | int | None = None
    classification_reason: ShortText | None = None
    update_ticket: bool | None = None
    ticket_id: ShortText | None = None
    incident_id: ShortText | None = None
    source: ShortText | None = None


class CommentCreate(CfModel):
    """A comment (`{content, extensionId}`; legacy adds incidentId, commentId, source)."""

    content: Annotated[Text, Field(min_length=1)]
    extension_id: ShortText | None = None
    incident_id: ShortText | None = None
    comment_id: ShortText | None = None
    source: ShortText | None = None


class AssigneeUpdate(CfModel):
    """Assign by ContraForce user id or e-mail; both empty unassigns."""

    user_id: ShortText | None = None
    email: ShortText | None = None
    incident_id: ShortText | None = None
    source: ShortText | None = None


class TimeFilterSelection(CfModel):
    """A preset window before now, or Custom with explicit bounds."""

    type: ShortText = "TwentyFourHours"
    custom_start_utc: datetime | None = None
    custom_end_utc: datetime | None = None


class WorkspacePageToken(CfModel):
    """Where the previous page of one workspace (and source) ended."""

    workspace_id: ShortText | None = None
    source_tokens: dict[str, Annotated[str, Field(max_length=2000)] | None] = Field(
        default_factory=dict
    )


class AcrossWorkspacesRequest(CfModel):
    """ListIncidentsAcrossWorkspacesRequest (plus `take`, muster's page size)."""

    severities: list[ShortText] = Field(default_factory=list)
    statuses: list[ShortText] = Field(default_factory=list)
    time_filter_selection: TimeFilterSelection | None = None
    query: Query | None = None
    is_first_call: bool = False
    sources: list[ShortText] = Field(default_factory=list)
    assignee_ids: list[ShortText] = Field(default_factory=list)
    assignee_emails: list[ShortText] = Field(default_factory=list)
    include_unassigned: bool = False
    workspace_page_tokens: list[WorkspacePageToken] = Field(default_factory=list)
    take: Take = 50


class UserRef(CfModel):
    """ContraForce's `user{id, displayName, email}`."""

    id: ShortText | None = None
    display_name: ShortText | None = None
    email: ShortText | None = None


class WorkspaceRef(CfModel):
    """A workspace given as an object."""

    id: ShortText


class BulkItem(CfModel):
    """One incident of a bulk update."""

    id: ShortText
    workspace: ShortText | WorkspaceRef
    status: ShortText | None = None
    user: UserRef | None = None
    remove_assignee: bool = False
    comment: Text | None = None
    classification: ShortText | int | None = None
    classification_reason: ShortText | None = None
    incident_source: ShortText | None = None

    @property
    def workspace_id(self) -> str:
        """The workspace id, however it was given."""
        return self.workspace if isinstance(self.workspace, str) else self.workspace.id


class BulkUpdateRequest(CfModel):
    """`{items: [...]}`, at most 1000."""

    items: Annotated[list[BulkItem], Field(min_length=1, max_length=1000)]
