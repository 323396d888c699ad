"""Pure decisions of the ContraForce facade: what a status update asks of muster's lifecycle,
which path segment is the source, which incidents a list's assignee filter selects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from muster.compat import mapping
from muster.errors import InvalidInput
from muster.models.enums import IncidentStatus


def status_change(
    status: str,
    classification: str | int | None,
    reason: str | None,
    comment: str | None,
    *,
    prefix: str = "",
) -> dict[str, Any]:
    """The lifecycle change a ContraForce status update asks for. The classification pair is
    checked whatever the status (never dropped silently); it is applied only with Closed,
    which needs one. A comment given with Closed becomes the resolution comment too."""
    target = mapping.status_from_name(status, f"{prefix}status")
    resolution, canonical = mapping.verdict_from(
        classification,
        reason,
        classification_field=f"{prefix}classification",
        reason_field=f"{prefix}classificationReason",
    )
    requested: dict[str, Any] = {"status": target}
    if target == IncidentStatus.RESOLVED:
        if resolution is None:
            raise InvalidInput.field(f"{prefix}classification", "is required when status is Closed")
        requested["resolution"] = resolution
        requested["resolution_reason"] = canonical
        if comment and comment.strip():
            requested["resolution_comment"] = comment
    return requested


def check_body_incident(path_id: str, body_id: str | None) -> None:
    """A body's incidentId, when given, must name the incident of the path."""
    if body_id is not None and body_id.strip() and body_id.strip().lower() != path_id.lower():
        raise InvalidInput.field("incidentId", "does not match the incident id in the path")


def check_source(source: str | None, field: str = "source") -> str | None:
    """A source named by a client, canonical, or None when not given."""
    if source is None or not str(source).strip():
        return None
    return mapping.source_from_name(source, field)


def evidence_segments(first: str, second: str) -> tuple[str, str]:
    """(source, incident id) of `.../incidents/{a}/{b}/evidence`: the current shape puts the
    source first, the legacy one second; whichever segment names a source is the source."""
    for source, incident in ((first, second), (second, first)):
        try:
            return mapping.source_from_name(source), incident
        except InvalidInput:
            continue
    return mapping.source_from_name(first), second  # raises, naming `source`


def source_numbers(numbers: Sequence[int] | None) -> frozenset[str]:
    """The source names of `/incidents/all`'s `sources` (empty: every source)."""
    return frozenset(mapping.source_from_number(n, "sources") for n in numbers or ())


def source_names(names: Sequence[str]) -> frozenset[str]:
    """The canonical source names of a v2 `sources` list (empty: every source)."""
    return frozenset(mapping.source_from_name(n, "sources") for n in names)


def assignee_expression(emails: Sequence[str], include_unassigned: bool) -> str | None:
    """A filter-language expression selecting incidents assigned to any of `emails` (and the
    unassigned ones when asked); None when nothing narrows the list."""
    if not emails:
        return None  # "include unassigned" only widens an assignee filter
    quoted = ", ".join(json.dumps(e, ensure_ascii=False) for e in dict.fromkeys(emails))
    expression = f"assignee in ({quoted})"
    return f"{expression} or assignee = null" if include_unassigned else expression
