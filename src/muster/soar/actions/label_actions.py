"""Actions that label the run's incident: its tags and its MITRE ATT&CK classification.

Like every incident action (`muster.soar.actions.incident_actions`), they run in the step's
transaction as the actor `SOAR`, under the lifecycle rules, and report `changed`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from muster.models import Incident
from muster.schema_base import ShortText
from muster.soar.actions.base import ActionContext, register
from muster.soar.actions.camel import CamelInput
from muster.soar.actions.incident_actions import ChangedOutput, IncidentAction, validated

Tag = Annotated[ShortText, StringConstraints(strip_whitespace=True, min_length=1)]


class TagsInput(CamelInput):
    """Tags to add or remove."""

    tags: list[Tag] = Field(min_length=1, max_length=100)


class SetTagsInput(CamelInput):
    """The complete new list of tags."""

    tags: list[Tag] = Field(max_length=100, description="the complete list; [] clears")


class TagsOutput(ChangedOutput):
    """The incident's tags afterwards."""

    tags: list[str]


class AddedTagsOutput(TagsOutput):
    """The tags afterwards and those that were new."""

    added: list[str]


class RemovedTagsOutput(TagsOutput):
    """The tags afterwards and those that were removed."""

    removed: list[str]


def _tags_of(incident: Incident) -> list[str]:
    return list(incident.tags or [])


@register
class AddTags(IncidentAction):
    """Add tags the incident does not have yet (order kept, no duplicates)."""

    name = "add_tags"
    summary = "Add tags to the incident."
    Input = TagsInput
    Output = AddedTagsOutput

    def run(self, ctx: ActionContext, params: TagsInput) -> AddedTagsOutput:
        """Every tag of `params.tags` is on the incident."""
        current = _tags_of(self.incident(ctx))
        added = [tag for tag in dict.fromkeys(params.tags) if tag not in current]
        incident, changed = self.change(ctx, {"tags": validated("tags", current + added, "tags")})
        return AddedTagsOutput(tags=_tags_of(incident), added=added, changed=changed)


@register
class RemoveTags(IncidentAction):
    """Remove tags from the incident (absent ones are ignored)."""

    name = "remove_tags"
    summary = "Remove tags from the incident."
    Input = TagsInput
    Output = RemovedTagsOutput

    def run(self, ctx: ActionContext, params: TagsInput) -> RemovedTagsOutput:
        """No tag of `params.tags` is on the incident."""
        current = _tags_of(self.incident(ctx))
        unwanted = set(params.tags)
        removed = [tag for tag in current if tag in unwanted]
        kept = [tag for tag in current if tag not in unwanted]
        incident, changed = self.change(ctx, {"tags": kept})
        return RemovedTagsOutput(tags=_tags_of(incident), removed=removed, changed=changed)


@register
class SetTags(IncidentAction):
    """Replace the incident's tags."""

    name = "set_tags"
    summary = "Replace the incident's tags (an empty list clears them)."
    Input = SetTagsInput
    Output = TagsOutput

    def run(self, ctx: ActionContext, params: SetTagsInput) -> TagsOutput:
        """The incident's tags are `params.tags` without repeats."""
        incident, changed = self.change(ctx, {"tags": list(dict.fromkeys(params.tags))})
        return TagsOutput(tags=_tags_of(incident), changed=changed)


class MitreInput(CamelInput):
    """A tactic and/or a technique, in any spelling the incident API accepts."""

    tactic: Annotated[str, Field(max_length=64)] | None = None
    technique: Annotated[str, Field(max_length=256)] | None = None

    @model_validator(mode="after")
    def _one_needed(self) -> MitreInput:
        if not (self.tactic or self.technique):
            raise ValueError("give a tactic, a technique or both")
        return self


class MitreOutput(ChangedOutput):
    """The incident's tactic and technique afterwards."""

    mitre_tactic: str | None
    mitre_technique: str | None


@register
class SetMitre(IncidentAction):
    """Set the incident's MITRE ATT&CK tactic and/or technique (any accepted spelling)."""

    name = "set_mitre"
    summary = "Set the MITRE ATT&CK tactic and/or technique (names, ids or URLs)."
    Input = MitreInput
    Output = MitreOutput

    def run(self, ctx: ActionContext, params: MitreInput) -> MitreOutput:
        """The incident holds the canonical tactic name and technique id given."""
        requested: dict[str, Any] = {}
        if params.tactic:
            requested["mitre_tactic"] = validated("mitre_tactic", params.tactic, "tactic")
        if params.technique:
            requested["mitre_technique"] = validated(
                "mitre_technique", params.technique, "technique"
            )
        incident, changed = self.change(ctx, requested)
        return MitreOutput(
            mitre_tactic=incident.mitre_tactic,
            mitre_technique=incident.mitre_technique,
            changed=changed,
        )
