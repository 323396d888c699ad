"""camelCase bases for the built-in actions' inputs and outputs, like the rest of the API.

Inputs accept `expectStatus` or `expect_status`; inputs and outputs dump as camelCase whatever
way the engine calls `model_dump`, so memory and the step log read like the API
(`incidentHash`).
"""

from __future__ import annotations

from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

from muster.soar.actions.base import ActionInput, ActionOutput

__all__ = ["CamelInput", "CamelOutput"]


class CamelInput(ActionInput):
    """An action input whose parameters are camelCase (snake_case accepted too)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="forbid"
    )


class CamelOutput(ActionOutput):
    """An action output that validates and dumps with camelCase names."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, extra="allow"
    )
