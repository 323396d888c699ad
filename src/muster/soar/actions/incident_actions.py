"""Actions on the run's own incident: severity, status, resolution, owner, comments.

All are `in_transaction`: they change the incident through `muster.incidents.service` in the
step's write transaction, as the actor `SOAR`, so the lifecycle rules and the timeline apply
exactly as for a person (the timeline's reason names the step). A refusal by those rules is a
`DomainError` and fails the step without a retry. Each output says what the incident holds
afterwards for the fields the action touches, and `changed` whether anything moved.
`IncidentAction` is the base of every such action (tags and MITRE: `label_actions`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from muster.errors import InvalidInput
from muster.incidents.comments import add_comment
from muster.incidents.lifecycle import SOAR
from muster.incidents.schemas import IncidentSeverity, IncidentUpdate
from muster.incidents.service import change_incident, get_incident
from muster.models import Incident
from muster.models.enums import IncidentStatus, Resolution
from muster.schema_base import ShortText, Text
from muster.soar.actions.base import Action, ActionContext, register
from muster.soar.actions.camel import CamelInput, CamelOutput


class IncidentAction(Action):
    """An action on the run's incident, inside the step's transaction."""

    in_transaction: ClassVar[bool] = True

    @staticmethod
    def session(ctx: ActionContext) -> Session:
        """The tenant-scoped session the engine gives `in_transaction` and `read_only` actions."""
        if ctx.session is None:
            raise RuntimeError("a database action was run without a session")
        return ctx.session

    @staticmethod
    def incident_id(ctx: ActionContext) -> uuid.UUID:
        """The run's incident id."""
        return uuid.UUID(str(ctx.incident["id"]))

    def incident(self, ctx: ActionContext) -> Incident:
        """The run's incident, loaded in the step's session (NotFound if it is gone)."""
        return get_incident(self.session(ctx), self.incident_id(ctx))

    def change(self, ctx: ActionContext, requested: dict[str, Any]) -> tuple[Incident, bool]:
        """Apply `requested` (snake_case) under the lifecycle; the incident and if it changed."""
        session, incident_id = self.session(ctx), self.incident_id(ctx)
        incident = get_incident(session, incident_id)
        before = {name: getattr(incident, name) for name in requested}
        change_incident(
            session,
            incident_id,
            requested,
            SOAR,
            ctx.now,
            reason=f"playbook step {ctx.step_id}",
            flush=False,  # written with the step's other changes at commit
            lock=False,  # the runner holds the incident's lock
        )
        return incident, any(getattr(incident, name) != old for name, old in before.items())


def validated(field: str, value: Any, param: str) -> Any:
    """`value` as `IncidentUpdate` normalises `field`; InvalidInput naming `param` if refused."""
    try:
        update = IncidentUpdate.model_validate({field: value})
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        raise InvalidInput.field(param, message) from None
    return getattr(update, field)


class ChangedOutput(CamelOutput):
    """Whether the action changed the incident."""

    changed: bool


class SeverityInput(CamelInput):
    """The new severity."""

    severity: IncidentSeverity


class SeverityOutput(ChangedOutput):
    """The incident's severity afterwards."""

    severity: int


@register
class SetSeverity(IncidentAction):
    """Set the incident's severity (1 Informational … 4 High)."""

    name = "set_severity"
    summary = "Set the incident's severity (1-4)."
    Input = SeverityInput
    Output = SeverityOutput

    def run(self, ctx: ActionContext, params: SeverityInput) -> SeverityOutput:
        """The incident has `params.severity`."""
        incident, changed = self.change(ctx, {"severity": params.severity})
        return SeverityOutput(severity=incident.severity, changed=changed)


class StatusInput(CamelInput):
    """The new status (not RESOLVED)."""

    status: Literal["OPEN", "UNDER_INVESTIGATION"] = Field(
        description="RESOLVED is reached only with the `resolve` action"
    )


class StatusOutput(ChangedOutput):
    """The incident's status afterwards."""

    status: str


@register
class SetStatus(IncidentAction):
    """Move the incident to OPEN or UNDER_INVESTIGATION (a resolved one is reopened)."""

    name = "set_status"
    summary = "Set the status to OPEN or UNDER_INVESTIGATION (use `resolve` to resolve)."
    Input = StatusInput
    Output = StatusOutput

    def run(self, ctx: ActionContext, params: StatusInput) -> StatusOutput:
        """The incident has `params.status` or the lifecycle refused (DomainError)."""
        incident, changed = self.change(ctx, {"status": IncidentStatus(params.status)})
        return StatusOutput(status=incident.status, changed=changed)


class ResolveInput(CamelInput):
    """The verdict and an optional resolution comment."""

    resolution: Resolution
    comment: Text | None = Field(default=None, description="becomes the resolutionComment")


class ResolveOutput(ChangedOutput):
    """The incident's status and verdict afterwards."""

    status: str
    resolution: str | None
    resolution_comment: str | None


@register
class Resolve(IncidentAction):
    """Resolve the incident with a resolution and an optional comment."""

    name = "resolve"
    summary = "Resolve the incident (resolution required, comment optional)."
    Input = ResolveInput
    Output = ResolveOutput

    def run(self, ctx: ActionContext, params: ResolveInput) -> ResolveOutput:
        """The incident is RESOLVED with `params.resolution`."""
        requested: dict[str, Any] = {
            "status": IncidentStatus.RESOLVED,
            "resolution": params.resolution,
        }
        if params.comment is not None:
            requested["resolution_comment"] = params.comment
        incident, changed = self.change(ctx, requested)
        return ResolveOutput(
            status=incident.status,
            resolution=incident.resolution,
            resolution_comment=incident.resolution_comment,
            changed=changed,
        )


class AssignInput(CamelInput):
    """The e-mail of the member to assign."""

    email: ShortText = Field(description="a member of the tenant")


class AssignOutput(ChangedOutput):
    """The incident's assignee afterwards."""

    assignee: str | None
    assignee_name: str | None


@register
class Assign(IncidentAction):
    """Assign the incident to a member of the tenant, by e-mail."""

    name = "assign"
    summary = "Assign the incident to a tenant member (by e-mail)."
    Input = AssignInput
    Output = AssignOutput

    def run(self, ctx: ActionContext, params: AssignInput) -> AssignOutput:
        """The member is the assignee, or InvalidInput when `email` is not a member."""
        incident, changed = self.change(ctx, {"assignee": params.email})
        return AssignOutput(
            assignee=incident.assignee, assignee_name=incident.assignee_name, changed=changed
        )


@register
class Unassign(IncidentAction):
    """Leave the incident without an assignee."""

    name = "unassign"
    summary = "Remove the incident's assignee."
    Output = AssignOutput

    def run(self, ctx: ActionContext, params: Any) -> AssignOutput:
        """Nobody is assigned."""
        incident, changed = self.change(ctx, {"assignee": None})
        return AssignOutput(
            assignee=incident.assignee, assignee_name=incident.assignee_name, changed=changed
        )


class CommentInput(CamelInput):
    """The comment's text."""

    body: Annotated[Text, Field(min_length=1)]


class CommentOutput(CamelOutput):
    """The id of the new comment."""

    comment_id: str


@register
class AddComment(IncidentAction):
    """Comment on the incident as SOAR."""

    name = "comment"
    summary = "Add a comment to the incident (author: SOAR)."
    Input = CommentInput
    Output = CommentOutput

    def run(self, ctx: ActionContext, params: CommentInput) -> CommentOutput:
        """The comment is on the incident's timeline."""
        comment = add_comment(
            self.session(ctx), self.incident_id(ctx), params.body, SOAR, ctx.now, lock=False
        )
        return CommentOutput(comment_id=str(comment.id))
