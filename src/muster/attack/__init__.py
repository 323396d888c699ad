"""MITRE ATT&CK Enterprise tactics and techniques, shipped offline, with input normalisation."""

from muster.attack.catalogue import (
    Tactic,
    Technique,
    UnknownTactic,
    UnknownTechnique,
    catalogue_version,
    normalise_tactic,
    normalise_technique,
    tactic_id,
    tactics,
    technique,
    technique_name,
    technique_tactics,
    techniques,
)

__all__ = [
    "Tactic",
    "Technique",
    "UnknownTactic",
    "UnknownTechnique",
    "catalogue_version",
    "normalise_tactic",
    "normalise_technique",
    "tactic_id",
    "tactics",
    "technique",
    "technique_name",
    "technique_tactics",
    "techniques",
]
