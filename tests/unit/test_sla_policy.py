"""Unit tests for SLA policies `muster.sla.policy` (plain values)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from muster.models.enums import Severity
from muster.sla.policy import (
    DEFAULT_AT_RISK_FRACTION,
    DEFAULT_POLICY,
    SETTINGS_KEY,
    SlaPolicyDocument,
    Targets,
    from_settings,
)


class TestDefaultPolicy:
    def test_targets_grow_as_severity_falls(self) -> None:
        targets = [DEFAULT_POLICY.for_severity(s) for s in (4, 3, 2, 1)]
        assert targets[0] == Targets(timedelta(minutes=30), timedelta(hours=4))
        for higher, lower in itertools.pairwise(targets):
            assert higher.response < lower.response
            assert higher.resolution < lower.resolution
        assert all(t.response < t.resolution for t in targets)

    def test_is_marked_default_with_the_default_fraction(self) -> None:
        assert DEFAULT_POLICY.is_default
        assert DEFAULT_POLICY.at_risk_fraction == DEFAULT_AT_RISK_FRACTION == 0.75

    @pytest.mark.parametrize(("severity", "clamped"), [(0, 1), (-3, 1), (5, 4), (99, 4)])
    def test_out_of_range_severities_are_clamped(self, severity: int, clamped: int) -> None:
        assert DEFAULT_POLICY.for_severity(severity) == DEFAULT_POLICY.for_severity(clamped)


class TestDocument:
    def test_severities_by_name_any_case_or_number(self) -> None:
        doc = SlaPolicyDocument.model_validate(
            {
                "atRiskFraction": 0.5,
                "targets": {
                    "high": {"response": "2s", "resolution": "5s"},
                    "3": {"response": 60, "resolution": "2h"},
                    1: {"response": "1d", "resolution": "30d"},
                },
            }
        )
        policy = doc.to_policy()
        assert not policy.is_default
        assert policy.at_risk_fraction == 0.5
        assert policy.for_severity(Severity.HIGH) == Targets(
            timedelta(seconds=2), timedelta(seconds=5)
        )
        assert policy.for_severity(Severity.MEDIUM) == Targets(
            timedelta(minutes=1), timedelta(hours=2)
        )
        assert policy.for_severity(Severity.INFORMATIONAL).resolution == timedelta(days=30)

    def test_left_out_severities_keep_the_default_targets(self) -> None:
        policy = SlaPolicyDocument.model_validate(
            {"targets": {"HIGH": {"response": "5m", "resolution": "1h"}}}
        ).to_policy()
        assert policy.at_risk_fraction == DEFAULT_AT_RISK_FRACTION
        for severity in (1, 2, 3):
            assert policy.for_severity(severity) == DEFAULT_POLICY.for_severity(severity)

    def test_stored_spells_out_every_severity_and_reads_back(self) -> None:
        doc = SlaPolicyDocument.model_validate(
            {"atRiskFraction": 0.8, "targets": {"LOW": {"response": 90, "resolution": "3h"}}}
        )
        stored = doc.stored()
        assert stored == {
            "atRiskFraction": 0.8,
            "targets": {
                "HIGH": {"response": "30m", "resolution": "4h"},
                "MEDIUM": {"response": "2h", "resolution": "1d"},
                "LOW": {"response": "90s", "resolution": "3h"},
                "INFORMATIONAL": {"response": "1d", "resolution": "7d"},
            },
        }
        assert from_settings({SETTINGS_KEY: stored}) == doc.to_policy()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"atRiskFraction": 0}, "atRiskFraction"),
            ({"atRiskFraction": 1}, "atRiskFraction"),
            ({"atRiskFraction": 1.5}, "atRiskFraction"),
            ({"atRiskFraction": "most"}, "atRiskFraction"),
            (
                {"targets": {"HIGH": {"response": "soon", "resolution": "1h"}}},
                "targets.HIGH.response",
            ),
            (
                {"targets": {"HIGH": {"response": "0s", "resolution": "1h"}}},
                "targets.HIGH.response",
            ),
            (
                {"targets": {"HIGH": {"response": "1h", "resolution": "31d"}}},
                "targets.HIGH.resolution",
            ),
            ({"targets": {"HIGH": {"response": "1h"}}}, "targets.HIGH.resolution"),
            ({"targets": {"HIGH": {"response": "2h", "resolution": "1h"}}}, "targets.HIGH"),
            ({"targets": {"CRITICAL": {"response": "1h", "resolution": "2h"}}}, "targets.CRITICAL"),
            ({"targets": {"UNSPECIFIED": {"response": "1h", "resolution": "2h"}}}, "targets"),
            ({"targets": {"5": {"response": "1h", "resolution": "2h"}}}, "targets"),
            ({"targets": ["HIGH"]}, "targets"),
            ({"fraction": 0.5}, "fraction"),
        ],
    )
    def test_bad_input_names_the_field(self, body: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            SlaPolicyDocument.model_validate(body)
        fields = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
        assert any(f.startswith(field) for f in fields), fields

    def test_a_response_as_long_as_the_resolution_is_allowed(self) -> None:
        doc = SlaPolicyDocument.model_validate(
            {"targets": {"LOW": {"response": "1h", "resolution": "60m"}}}
        )
        assert doc.to_policy().for_severity(2) == Targets(timedelta(hours=1), timedelta(hours=1))


class TestFromSettings:
    @pytest.mark.parametrize(
        "settings",
        [None, {}, {"other": 1}, {SETTINGS_KEY: None}, {SETTINGS_KEY: "fast"}],
    )
    def test_no_policy_is_the_default(self, settings: dict[str, Any] | None) -> None:
        assert from_settings(settings) is DEFAULT_POLICY

    def test_a_stored_policy_that_no_longer_validates_falls_back_to_the_default(self) -> None:
        broken = {SETTINGS_KEY: {"atRiskFraction": 7, "targets": {}}}
        assert from_settings(broken) is DEFAULT_POLICY
