"""muster's incident vocabulary ↔ ContraForce's and Sentinel's, written once, both directions.

Pure functions over plain values. Readers (`*_name`, `*_number`) turn muster's values into the
other platforms'; parsers (`*_from_*`) take what a client sent, case-insensitively, and raise
`InvalidInput` naming the caller's field for anything else. docs/compatibility.md has the tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from muster.attack import UnknownTactic, normalise_tactic
from muster.errors import InvalidInput
from muster.incidents.verdicts import SENTINEL_REASONS, allowed_reasons, canonical_reason
from muster.models.enums import IncidentStatus, Resolution

# --- status: OPEN ↔ New, UNDER_INVESTIGATION ↔ Active, RESOLVED ↔ Closed ------------------
_STATUS_NAMES: Mapping[str, str] = {
    IncidentStatus.OPEN: "New",
    IncidentStatus.UNDER_INVESTIGATION: "Active",
    IncidentStatus.RESOLVED: "Closed",
}
_STATUS_NUMBERS: Mapping[str, int] = {"Active": 1, "New": 2, "Closed": 3}  # ContraForce beta


def status_name(status: str) -> str:
    """New, Active or Closed for a muster status."""
    return _STATUS_NAMES[IncidentStatus(status)]


def status_from_name(name: str, field: str = "status") -> str:
    """The muster status a client's New/Active/Closed (any case) means."""
    wanted = str(name).strip().casefold()
    for status, shown in _STATUS_NAMES.items():
        if shown.casefold() == wanted:
            return str(status)
    raise InvalidInput.field(field, f"{name!r} is not a status; use New, Active or Closed")


def status_number(status: str) -> int:
    """ContraForce's integer status: Active=1, New=2, Closed=3."""
    return _STATUS_NUMBERS[status_name(status)]


def status_from_number(number: int, field: str = "status") -> str:
    """The muster status for ContraForce's integer status."""
    for shown, value in _STATUS_NUMBERS.items():
        if value == number:
            return status_from_name(shown, field)
    raise InvalidInput.field(field, f"{number!r} is not a status; use 1 Active, 2 New, 3 Closed")


# --- severity: 1..4 ↔ Informational..High (ContraForce's integers are muster's) ---------------
_SEVERITY_NAMES = ("Informational", "Low", "Medium", "High")


def severity_name(severity: int) -> str:
    """Informational, Low, Medium or High for a muster severity 1..4."""
    return _SEVERITY_NAMES[int(severity) - 1]


def severity_from_name(name: str, field: str = "severity") -> int:
    """The muster severity a client's Informational..High (any case) means."""
    wanted = str(name).strip().casefold()
    for index, shown in enumerate(_SEVERITY_NAMES, start=1):
        if shown.casefold() == wanted:
            return index
    raise InvalidInput.field(field, f"{name!r} is not a severity; use {', '.join(_SEVERITY_NAMES)}")


# --- verdict: resolution (+ reason) ↔ classification (+ classificationReason) ---------------
_CLASSIFICATIONS: Mapping[str, str] = {
    Resolution.BENIGN_POSITIVE: "BenignPositive",
    Resolution.FALSE_POSITIVE: "FalsePositive",
    Resolution.TRUE_POSITIVE: "TruePositive",
    Resolution.UNDETERMINED: "Undetermined",
}
_CLASSIFICATION_NUMBERS: Mapping[str, int] = {
    "BenignPositive": 1,
    "FalsePositive": 2,
    "TruePositive": 3,
    "Undetermined": 4,
}
DUPLICATE_REASON = "Duplicate"  # how a merged incident's verdict reads in ContraForce


def classification_name(resolution: str | None) -> str | None:
    """The classification a resolution reads as; DUPLICATE (merged) reads as Undetermined."""
    if resolution is None:
        return None
    return _CLASSIFICATIONS.get(Resolution(resolution), "Undetermined")


def classification_number(resolution: str | None) -> int | None:
    """ContraForce's integer classification: BenignPositive=1 … Undetermined=4."""
    name = classification_name(resolution)
    return _CLASSIFICATION_NUMBERS[name] if name is not None else None


def contraforce_reason(resolution: str | None, reason: str | None) -> str | None:
    """The classificationReason ContraForce clients see: the stored reason, or Duplicate."""
    if resolution == Resolution.DUPLICATE:
        return DUPLICATE_REASON
    return reason


def sentinel_reason(resolution: str | None, reason: str | None) -> str | None:
    """One of Sentinel's four reasons (or None), by ContraForce's write-back table."""
    if reason in SENTINEL_REASONS:
        return reason
    match classification_name(resolution):
        case "TruePositive":
            return "SuspiciousActivity"
        case "BenignPositive":
            return "SuspiciousButExpected"
        case "FalsePositive":
            return "InaccurateData"
        case _:
            return None


def resolution_from_classification(value: str | int, field: str = "classification") -> str:
    """The muster resolution for a classification name (any case) or ContraForce integer."""
    text = str(value).strip()
    for resolution, name in _CLASSIFICATIONS.items():
        if text.casefold() == name.casefold() or text == str(_CLASSIFICATION_NUMBERS[name]):
            return str(resolution)
    raise InvalidInput.field(
        field,
        f"{value!r} is not a classification; use {', '.join(_CLASSIFICATIONS.values())}",
    )


def verdict_from(
    classification: str | int | None,
    reason: str | None,
    *,
    classification_field: str = "classification",
    reason_field: str = "classificationReason",
) -> tuple[str | None, str | None]:
    """(resolution, canonical reason) for a client's classification and reason; a reason is
    accepted when ContraForce's taxonomy or Sentinel's reason list allows it with the
    classification (muster.incidents.verdicts), and refused otherwise, never dropped."""
    blank_reason = reason is None or not str(reason).strip()
    if classification is None or not str(classification).strip():
        if not blank_reason:
            raise InvalidInput.field(reason_field, "needs a classification beside it")
        return None, None
    resolution = resolution_from_classification(classification, classification_field)
    if blank_reason:
        return resolution, None
    canonical = canonical_reason(resolution, str(reason))
    if canonical is None:
        shown = classification_name(resolution)
        raise InvalidInput.field(
            reason_field,
            f"{reason!r} is not a reason for {shown}; "
            f"use one of {', '.join(allowed_reasons(resolution))}",
        )
    return resolution, canonical


# --- MITRE tactics: ATT&CK display names ↔ Sentinel's AttackTactic spelling ----------------


def tactic_name(tactic: str) -> str:
    """Sentinel's AttackTactic spelling of an ATT&CK tactic: Lateral Movement → LateralMovement."""
    return "".join(part[:1].upper() + part[1:] for part in tactic.replace("-", " ").split())


def tactic_from_name(name: str, field: str = "tactics") -> str:
    """The ATT&CK display name for a Sentinel tactic (LateralMovement → Lateral Movement)."""
    try:
        return normalise_tactic(name)
    except UnknownTactic as exc:
        raise InvalidInput.field(field, str(exc)) from None


# --- ContraForce's SIEM sources ---------------------------------------------------------------
SOURCES: Mapping[str, int] = {
    "Sentinel": 1,
    "DefenderXDR": 2,
    "QRadar": 3,
    "Splunk": 4,
    "CrowdStrike": 5,
    "SentinelOne": 6,
}
SOURCE_DISPLAY_NAMES: Mapping[str, str] = {
    "Sentinel": "Microsoft Sentinel",
    "DefenderXDR": "Microsoft Defender XDR",
    "QRadar": "IBM QRadar",
    "Splunk": "Splunk",
    "CrowdStrike": "CrowdStrike Falcon",
    "SentinelOne": "SentinelOne",
}
# product-name fragments that mean an incident came from a SIEM/XDR other than muster's own
_SOURCE_HINTS: tuple[tuple[str, str], ...] = (
    ("defender xdr", "DefenderXDR"),
    ("microsoft 365 defender", "DefenderXDR"),
    ("qradar", "QRadar"),
    ("splunk", "Splunk"),
    ("crowdstrike", "CrowdStrike"),
    ("sentinelone", "SentinelOne"),
)


def source_of(products: Sequence[str]) -> str:
    """The ContraForce source an incident is served under: muster plays the SIEM (Sentinel)
    unless every product that fed it names another one."""
    named = [_named_source(product) for product in products]
    if named and None not in named and len(set(named)) == 1:
        return str(named[0])
    return "Sentinel"


def _named_source(product: str) -> str | None:
    text = product.casefold()
    return next((source for hint, source in _SOURCE_HINTS if hint in text), None)


def source_from_name(name: str, field: str = "source") -> str:
    """The canonical source name for a client's (any case), or InvalidInput."""
    wanted = str(name).strip().casefold()
    for source in SOURCES:
        if source.casefold() == wanted:
            return source
    raise InvalidInput.field(field, f"{name!r} is not a source; use one of {', '.join(SOURCES)}")


def source_from_number(number: int, field: str = "sources") -> str:
    """The source name for ContraForce's integer source."""
    for source, value in SOURCES.items():
        if value == number:
            return source
    raise InvalidInput.field(field, f"{number!r} is not a source; use 1..{len(SOURCES)}")
