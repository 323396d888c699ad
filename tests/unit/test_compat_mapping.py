"""The vocabulary mappings between muster, ContraForce and Sentinel, in both directions."""

from __future__ import annotations

import pytest

from muster.attack import tactics
from muster.compat import mapping
from muster.errors import InvalidInput
from muster.incidents.verdicts import CANONICAL_REASONS, SENTINEL_REASONS
from muster.models.enums import IncidentStatus, Resolution


class TestStatus:
    @pytest.mark.parametrize(
        ("status", "name", "number"),
        [("OPEN", "New", 2), ("UNDER_INVESTIGATION", "Active", 1), ("RESOLVED", "Closed", 3)],
    )
    def test_each_status_maps_out_and_back(self, status: str, name: str, number: int) -> None:
        assert mapping.status_name(status) == name
        assert mapping.status_number(status) == number
        assert mapping.status_from_name(name) == status
        assert mapping.status_from_name(name.upper()) == status
        assert mapping.status_from_number(number) == status

    def test_every_muster_status_round_trips(self) -> None:
        for status in IncidentStatus:
            assert mapping.status_from_name(mapping.status_name(status)) == status
            assert mapping.status_from_number(mapping.status_number(status)) == status

    def test_an_unknown_status_names_the_callers_field(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            mapping.status_from_name("Resolved", field="properties.status")
        assert caught.value.errors[0]["field"] == "properties.status"
        with pytest.raises(InvalidInput):
            mapping.status_from_number(4)


class TestSeverity:
    def test_severities_round_trip_and_match_contraforce_integers(self) -> None:
        names = [mapping.severity_name(s) for s in (1, 2, 3, 4)]
        assert names == ["Informational", "Low", "Medium", "High"]
        for severity, name in enumerate(names, start=1):
            assert mapping.severity_from_name(name.lower()) == severity

    def test_an_unknown_severity_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            mapping.severity_from_name("Critical")


class TestVerdict:
    def test_every_resolution_but_duplicate_round_trips_through_its_classification(
        self,
    ) -> None:
        for resolution in Resolution:
            name = mapping.classification_name(resolution)
            assert name is not None
            back, reason = mapping.verdict_from(name, None)
            expected = Resolution.UNDETERMINED if resolution is Resolution.DUPLICATE else resolution
            assert back == expected and reason is None
            number = mapping.classification_number(resolution)
            assert mapping.resolution_from_classification(number or 0) == expected

    def test_contraforce_integers(self) -> None:
        assert mapping.classification_number(Resolution.BENIGN_POSITIVE) == 1
        assert mapping.classification_number(Resolution.FALSE_POSITIVE) == 2
        assert mapping.classification_number(Resolution.TRUE_POSITIVE) == 3
        assert mapping.classification_number(Resolution.UNDETERMINED) == 4
        assert mapping.classification_number(None) is None

    def test_every_canonical_pair_is_accepted(self) -> None:
        for resolution, reasons in CANONICAL_REASONS.items():
            if resolution is Resolution.DUPLICATE:
                continue
            name = mapping.classification_name(resolution)
            for reason in reasons:
                assert mapping.verdict_from(name, reason.lower()) == (resolution, reason)

    def test_sentinel_reasons_go_with_every_classification(self) -> None:
        for name in ("TruePositive", "FalsePositive", "BenignPositive", "Undetermined"):
            for reason in SENTINEL_REASONS:
                resolution, kept = mapping.verdict_from(name, reason)
                assert kept == reason
                assert mapping.sentinel_reason(resolution, kept) == reason

    def test_a_pair_neither_allows_is_refused_naming_the_reason_field(self) -> None:
        with pytest.raises(InvalidInput) as caught:
            mapping.verdict_from("TruePositive", "NotMalicious", reason_field="reason")
        assert caught.value.errors[0]["field"] == "reason"
        with pytest.raises(InvalidInput) as caught:
            mapping.verdict_from(None, "Malware")
        assert caught.value.errors[0]["field"] == "classificationReason"
        with pytest.raises(InvalidInput) as caught:
            mapping.verdict_from("Suspicious", None)
        assert caught.value.errors[0]["field"] == "classification"

    def test_sentinel_write_back_falls_back_to_its_default_reasons(self) -> None:
        assert mapping.sentinel_reason(Resolution.TRUE_POSITIVE, "Malware") == "SuspiciousActivity"
        assert mapping.sentinel_reason(Resolution.FALSE_POSITIVE, "Other") == "InaccurateData"
        assert mapping.sentinel_reason(Resolution.BENIGN_POSITIVE, None) == "SuspiciousButExpected"
        assert mapping.sentinel_reason(Resolution.UNDETERMINED, "Unknown") is None
        assert mapping.contraforce_reason(Resolution.DUPLICATE, None) == mapping.DUPLICATE_REASON
        assert mapping.contraforce_reason(Resolution.TRUE_POSITIVE, "APT") == "APT"


class TestTactics:
    def test_every_attack_tactic_round_trips_through_sentinels_spelling(self) -> None:
        for tactic in tactics():
            spelled = mapping.tactic_name(tactic.name)
            assert " " not in spelled and "-" not in spelled
            assert mapping.tactic_from_name(spelled) == tactic.name

    def test_sentinel_examples(self) -> None:
        assert mapping.tactic_name("Lateral Movement") == "LateralMovement"
        assert mapping.tactic_name("Command and Control") == "CommandAndControl"
        assert mapping.tactic_from_name("PrivilegeEscalation") == "Privilege Escalation"
        with pytest.raises(InvalidInput):
            mapping.tactic_from_name("Teleportation")


class TestSources:
    def test_names_and_numbers(self) -> None:
        for name, number in mapping.SOURCES.items():
            assert mapping.source_from_name(name.lower()) == name
            assert mapping.source_from_number(number) == name
            assert mapping.SOURCE_DISPLAY_NAMES[name]
        with pytest.raises(InvalidInput):
            mapping.source_from_name("Elastic")

    def test_muster_is_the_siem_unless_every_product_names_another(self) -> None:
        assert mapping.source_of([]) == "Sentinel"
        assert mapping.source_of(["Wazuh", "Suricata"]) == "Sentinel"
        assert mapping.source_of(["Microsoft Defender XDR"]) == "DefenderXDR"
        assert mapping.source_of(["CrowdStrike Falcon", "crowdstrike"]) == "CrowdStrike"
        assert mapping.source_of(["CrowdStrike Falcon", "Wazuh"]) == "Sentinel"
