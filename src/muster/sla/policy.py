"""SLA policies: per severity a response and a resolution target, and when an incident is at risk.

A policy is stored in the tenant's settings under `slaPolicy` in the same JSON shape the API
takes (`SlaPolicyDocument`)::

    {"atRiskFraction": 0.75,
     "targets": {"HIGH": {"response": "30m", "resolution": "4h"}, "MEDIUM": {...}, ...}}

Severities left out of `targets` keep the default policy's targets. A tenant without a policy
(or with one that no longer validates) runs on `DEFAULT_POLICY`. Durations are spelled as
elsewhere in muster (`"90s"`, `"15m"`, `"4h"`, `"2d"`, or a number of seconds), from 1 second to
30 days; a response target may not be longer than the resolution target of its severity.

Pure: parsing and shape only, no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from muster.models.enums import Severity
from muster.playbooks.definition import format_duration, parse_duration
from muster.schema_base import ApiModel

__all__ = [
    "DEFAULT_AT_RISK_FRACTION",
    "DEFAULT_POLICY",
    "SETTINGS_KEY",
    "SEVERITY_NAMES",
    "Policy",
    "SlaPolicyDocument",
    "Targets",
    "from_settings",
]

SETTINGS_KEY = "slaPolicy"
DEFAULT_AT_RISK_FRACTION = 0.75
SEVERITY_NAMES: Mapping[int, str] = {
    s.value: s.name for s in Severity if s is not Severity.UNSPECIFIED
}  # 1 INFORMATIONAL .. 4 HIGH


@dataclass(frozen=True, slots=True)
class Targets:
    """How long an incident of one severity may take to be responded to and to be resolved."""

    response: timedelta
    resolution: timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    """A tenant's effective SLA policy; `is_default` when the tenant has none of its own."""

    targets: Mapping[int, Targets]
    at_risk_fraction: float = DEFAULT_AT_RISK_FRACTION
    is_default: bool = False

    def for_severity(self, severity: int) -> Targets:
        """The targets of a severity (out-of-range severities are clamped to 1..4)."""
        return self.targets[min(max(severity, 1), 4)]


DEFAULT_POLICY = Policy(
    {
        Severity.HIGH: Targets(timedelta(minutes=30), timedelta(hours=4)),
        Severity.MEDIUM: Targets(timedelta(hours=2), timedelta(days=1)),
        Severity.LOW: Targets(timedelta(hours=8), timedelta(days=3)),
        Severity.INFORMATIONAL: Targets(timedelta(days=1), timedelta(days=7)),
    },
    DEFAULT_AT_RISK_FRACTION,
    is_default=True,
)

SeverityName = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH"]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "examples": ["30m", "4h", "2d", "90s"]}, mode="serialization"
    ),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "examples": ["30m", "4h"]}, {"type": "integer"}]},
        mode="validation",
    ),
]


class TargetsDocument(ApiModel):
    """The targets of one severity."""

    response: Duration = Field(description="time to the first human response (respondedAt)")
    resolution: Duration = Field(description="time to resolution (resolvedAt)")

    @model_validator(mode="after")
    def _response_first(self) -> TargetsDocument:
        if self.response > self.resolution:
            raise ValueError("the response target must not be longer than the resolution target")
        return self


class SlaPolicyDocument(ApiModel):
    """A tenant's SLA policy as the API takes it and the tenant's settings store it."""

    at_risk_fraction: float = Field(
        DEFAULT_AT_RISK_FRACTION,
        gt=0,
        lt=1,
        description="an open target is at risk once this fraction of it has elapsed",
    )
    targets: dict[SeverityName, TargetsDocument] = Field(
        default_factory=dict,
        description="by severity name (INFORMATIONAL, LOW, MEDIUM, HIGH); "
        "severities left out keep the default targets",
    )

    @model_validator(mode="before")
    @classmethod
    def _severity_names(cls, data: Any) -> Any:
        """Targets are keyed by severity name (`HIGH`, any case) or number (`4`)."""
        if isinstance(data, dict) and isinstance(data.get("targets"), dict):
            data = {**data, "targets": {_severity(k): v for k, v in data["targets"].items()}}
        return data

    def to_policy(self) -> Policy:
        """The effective policy: these targets over the default ones."""
        targets = dict(DEFAULT_POLICY.targets)
        for name, doc in self.targets.items():
            targets[Severity[name].value] = Targets(doc.response, doc.resolution)
        return Policy(targets, self.at_risk_fraction)

    @classmethod
    def of(cls, policy: Policy) -> SlaPolicyDocument:
        """The document spelling out every target of `policy`."""
        return cls(
            at_risk_fraction=policy.at_risk_fraction,
            targets={
                cast(SeverityName, SEVERITY_NAMES[sev]): TargetsDocument(
                    response=t.response, resolution=t.resolution
                )
                for sev, t in sorted(policy.targets.items(), reverse=True)
            },
        )

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the tenant's settings (every severity spelled out)."""
        return SlaPolicyDocument.of(self.to_policy()).model_dump(mode="json", by_alias=True)


def _severity(key: Any) -> Any:
    """`"HIGH"`, `"high"`, `4` or `"4"` → `"HIGH"`; anything else is left for pydantic to
    refuse, under the key the client sent."""
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key.strip())
    if isinstance(key, int) and not isinstance(key, bool):
        return SEVERITY_NAMES.get(key, key)
    if isinstance(key, str) and key.strip().upper() in SEVERITY_NAMES.values():
        return key.strip().upper()
    return key


def from_settings(settings: Mapping[str, Any] | None) -> Policy:
    """The effective policy of a tenant with these settings (the default when it has none, or
    when what is stored no longer validates)."""
    raw = (settings or {}).get(SETTINGS_KEY)
    if not isinstance(raw, dict):
        return DEFAULT_POLICY
    try:
        return SlaPolicyDocument.model_validate(raw).to_policy()
    except ValidationError:
        return DEFAULT_POLICY
