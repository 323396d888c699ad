"""The pure enrichment actions: `attack_lookup` and `classify_ip` (and the memory actions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from muster.config import Settings
from muster.soar.actions.base import ActionContext, ActionOutput, load_actions

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def ctx() -> ActionContext:
    return ActionContext(
        tenant_id=uuid.uuid4(),
        process_id=uuid.uuid4(),
        step_id="enrich",
        incident={"id": str(uuid.uuid4()), "incidentHash": "ABCD-EFGH"},
        memory={},
        now=NOW,
        settings=Settings(database_url="sqlite://"),
        idempotency_key="p:1",
    )


def run(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate `params` as the engine does, run the action, dump its output as JSON."""
    cls = load_actions()[action]
    output = cls().run(ctx(), cls.Input.model_validate(params))
    assert isinstance(output, cls.Output)
    return cls.Output.model_validate(output.model_dump()).model_dump(mode="json")


class TestAttackLookup:
    def test_a_subtechnique_by_id(self) -> None:
        out = run("attack_lookup", {"technique": "t1059.001"})
        assert out["techniqueId"] == "T1059.001"
        assert out["techniqueName"] == "PowerShell"
        assert out["techniqueTactics"] == ["Execution"]
        assert out["techniqueTacticIds"] == ["TA0002"]
        assert out["parentTechniqueId"] == "T1059"
        assert out["parentTechniqueName"] == "Command and Scripting Interpreter"
        assert out["tactic"] is None and out["techniqueInTactic"] is None

    def test_a_tactic_in_any_spelling(self) -> None:
        out = run("attack_lookup", {"tactic": "lateral-movement"})
        assert (out["tactic"], out["tacticId"]) == ("Lateral Movement", "TA0008")
        assert out["techniqueId"] is None and out["techniqueTactics"] == []

    @pytest.mark.parametrize(("tactic", "inside"), [("Execution", True), ("TA0008", False)])
    def test_both_say_whether_the_technique_belongs(self, tactic: str, inside: bool) -> None:
        out = run("attack_lookup", {"technique": "T1059.001", "tactic": tactic})
        assert out["techniqueInTactic"] is inside

    def test_a_technique_by_name(self) -> None:
        out = run("attack_lookup", {"technique": "Taint Shared Content"})
        assert out["techniqueId"] == "T1080"
        assert out["parentTechniqueId"] is None

    @pytest.mark.parametrize(
        ("params", "error"),
        [
            ({"technique": "T9999"}, "T9999 is not an active technique"),
            ({"tactic": "Sleeping"}, "unknown MITRE ATT&CK tactic"),
            ({}, "give a technique, a tactic or both"),
            ({"technique": None, "tactic": ""}, "give a technique, a tactic or both"),
            ({"technique": "T1059", "extra": 1}, "Extra inputs are not permitted"),
        ],
    )
    def test_bad_input_is_refused_before_running(self, params: dict[str, Any], error: str) -> None:
        with pytest.raises(ValidationError, match=error):
            load_actions()["attack_lookup"].Input.model_validate(params)


class TestClassifyIp:
    @pytest.mark.parametrize(
        ("ip", "version", "flags"),
        [
            ("10.1.2.3", 4, {"private"}),
            ("8.8.8.8", 4, {"global"}),
            ("127.0.0.1", 4, {"private", "loopback"}),
            ("169.254.10.1", 4, {"private", "linkLocal"}),
            ("224.0.0.251", 4, {"multicast", "global"}),  # ipaddress: not private, so global
            ("240.0.0.1", 4, {"private", "reserved"}),
            ("0.0.0.0", 4, {"private", "unspecified"}),
            ("2001:4860:4860::8888", 6, {"global"}),
            ("fe80::1", 6, {"private", "linkLocal"}),
            ("::1", 6, {"private", "loopback", "reserved"}),  # ::/8 is reserved
            (" ::ffff:192.168.1.9 ", 4, {"private"}),  # IPv4-mapped: the IPv4 inside
        ],
    )
    def test_flags_follow_ipaddress(self, ip: str, version: int, flags: set[str]) -> None:
        out = run("classify_ip", {"ip": ip})
        assert out["version"] == version
        names = ("private", "loopback", "linkLocal", "multicast", "reserved", "unspecified")
        shown = {name for name in (*names, "global") if out[name]}
        assert shown == flags

    def test_the_mapped_address_is_reported_as_ipv4(self) -> None:
        assert run("classify_ip", {"ip": "::ffff:192.168.1.9"})["ip"] == "192.168.1.9"

    def test_networks_that_contain_it_are_listed(self) -> None:
        out = run(
            "classify_ip",
            {
                "ip": "10.20.30.40",
                "networks": ["10.0.0.0/8", "10.20.30.1/24", "192.168.0.0/16", "::/0"],
            },
        )
        assert out["matchedNetworks"] == ["10.0.0.0/8", "10.20.30.0/24"]

    @pytest.mark.parametrize(
        "params",
        [{"ip": "10.0.0.300"}, {"ip": "host.example"}, {"ip": "10.0.0.1", "networks": ["x/8"]}],
    )
    def test_bad_addresses_are_refused(self, params: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            load_actions()["classify_ip"].Input.model_validate(params)


class TestMemoryActions:
    def test_set_memory_outputs_exactly_its_values(self) -> None:
        cls = load_actions()["set_memory"]
        assert getattr(cls, "writes_memory", False) is True
        values = {"verdict": "malicious", "ips": ["10.0.0.1"], "n": 2}
        output = cls().run(ctx(), cls.Input.model_validate({"values": values}))
        assert isinstance(output, ActionOutput)
        assert output.model_dump(mode="json") == values

    def test_set_memory_refuses_keys_memory_cannot_hold(self) -> None:
        with pytest.raises(ValidationError):
            load_actions()["set_memory"].Input.model_validate({"values": {"not a key": 1}})

    @pytest.mark.parametrize(
        ("duration", "until", "seconds"),
        [("30s", "2026-03-02T09:30:30+00:00", 30), ("5m", "2026-03-02T09:35:00+00:00", 300)],
    )
    def test_wait_computes_until(self, duration: str, until: str, seconds: int) -> None:
        out = run("wait", {"duration": duration})
        assert out == {"until": until, "seconds": seconds}
        assert getattr(load_actions()["wait"], "waits", False) is True

    @pytest.mark.parametrize("duration", ["0s", "31d", "soon"])
    def test_wait_refuses_durations_out_of_range(self, duration: str) -> None:
        with pytest.raises(ValidationError):
            load_actions()["wait"].Input.model_validate({"duration": duration})
