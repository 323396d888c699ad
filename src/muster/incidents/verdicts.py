"""Which reasons may accompany which resolution: the verdict taxonomy, as pure data.

muster's `resolution` is the verdict (TRUE_POSITIVE …); `resolutionReason` says why, in the
vocabulary SOC tools already use. A reason is allowed with a resolution when ContraForce's
canonical classification taxonomy allows it (docs.contraforce.com, incident classification) or
when it is one of Sentinel's own four reasons, which Sentinel accepts with any classification
(clients written for Sentinel write-back close with pairs such as Undetermined +
InaccurateData). Names compare case-insensitively and come back in their canonical spelling.
"""

from __future__ import annotations

from collections.abc import Mapping

from muster.models.enums import Resolution

SENTINEL_REASONS: tuple[str, ...] = (
    "SuspiciousActivity",
    "SuspiciousButExpected",
    "IncorrectAlertLogic",
    "InaccurateData",
)

# ContraForce's canonical taxonomy, in its display order.
CANONICAL_REASONS: Mapping[Resolution, tuple[str, ...]] = {
    Resolution.TRUE_POSITIVE: (
        "MultistageAttack",
        "Malware",
        "MaliciousUserActivity",
        "UnwantedSoftware",
        "Phishing",
        "CompromisedUser",
        "APT",
        "SuspiciousActivity",
        "Other",
    ),
    Resolution.FALSE_POSITIVE: (
        "NotMalicious",
        "NotEnoughDataToValidate",
        "InaccurateData",
        "IncorrectAlertLogic",
        "Other",
    ),
    Resolution.BENIGN_POSITIVE: (
        "SecurityTesting",
        "ConfirmedUserActivity",
        "LineOfBusinessApplication",
        "SecurityPersonnel",
        "SuspiciousButExpected",
        "Other",
    ),
    Resolution.UNDETERMINED: ("Unknown", "Other"),
    Resolution.DUPLICATE: (),  # muster's own verdict for merged incidents; no reason
}


def allowed_reasons(resolution: str) -> tuple[str, ...]:
    """Every reason allowed with `resolution`, canonical spelling, taxonomy order first."""
    verdict = Resolution(resolution)
    own = CANONICAL_REASONS[verdict]
    if verdict is Resolution.DUPLICATE:
        return own
    return own + tuple(r for r in SENTINEL_REASONS if r not in own)


def canonical_reason(resolution: str, reason: str) -> str | None:
    """The canonical spelling of `reason` if it may accompany `resolution`, else None."""
    wanted = reason.strip().casefold()
    for allowed in allowed_reasons(resolution):
        if allowed.casefold() == wanted:
            return allowed
    return None
