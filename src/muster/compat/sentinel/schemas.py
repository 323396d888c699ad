"""Request bodies of the Sentinel-compatible API, as the official client serialises them.

Unknown and read-only fields are ignored (a client may PUT back what it read); the fields
muster stores are checked here (types, lengths, no NUL) and their meaning by the mapping.
`fields_set` tells an absent property (keep) from an explicit null (clear).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from muster.errors import InvalidInput
from muster.schema_base import ShortText, Text


class _Body(BaseModel):
    """camelCase as on the wire; extra (read-only) properties ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=to_camel)


class OwnerIn(_Body):
    """IncidentOwnerInfo: who the incident is assigned to."""

    object_id: ShortText | None = None
    email: ShortText | None = None
    user_principal_name: ShortText | None = None
    assigned_to: ShortText | None = None


class LabelIn(_Body):
    """IncidentLabel: one tag."""

    label_name: Annotated[ShortText, Field(min_length=1)]


class IncidentPropertiesIn(_Body):
    """The writable properties of an Incident."""

    title: Annotated[Text, Field(min_length=1)] | None = None
    description: Text | None = None
    severity: ShortText | None = None
    status: ShortText | None = None
    classification: ShortText | None = None
    classification_reason: ShortText | None = None
    classification_comment: Text | None = None
    owner: OwnerIn | None = None
    labels: Annotated[list[LabelIn], Field(max_length=100)] | None = None


class IncidentIn(_Body):
    """An Incident PUT body."""

    etag: ShortText | None = None
    properties: IncidentPropertiesIn


class CommentPropertiesIn(_Body):
    """The writable properties of an IncidentComment."""

    message: Annotated[Text, Field(min_length=1)]


class CommentIn(_Body):
    """An IncidentComment PUT body."""

    properties: CommentPropertiesIn


class RelationPropertiesIn(_Body):
    """The writable properties of a Relation."""

    related_resource_id: Annotated[ShortText, Field(min_length=1)]


class RelationIn(_Body):
    """A Relation PUT body."""

    properties: RelationPropertiesIn


Model = TypeVar("Model", bound=BaseModel)


def parse_body(model: type[Model], data: Any) -> Model:
    """`data` validated as `model`, or InvalidInput naming every offending field (JSON path)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"]}
            for err in exc.errors()
        ]
        first = found[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", errors=found) from None
