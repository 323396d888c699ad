"""`muster.playbooks.graph.check`: every rule, each with a failing example naming its step."""

from __future__ import annotations

import time
from typing import Any, Literal

import pytest
from pydantic import Field

from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.graph import Problem, call_cycles, check
from muster.soar.actions.base import Action, ActionInput


class EchoInput(ActionInput):
    severity: int = Field(ge=1, le=4)
    note: str = ""
    tags: list[str] = Field(default_factory=list)
    mode: Literal["fast", "slow"] = "fast"
    alert_limit: int = Field(default=5, alias="alertLimit", ge=1)


class Echo(Action):
    name = "test_echo"
    summary = "echo for tests"
    Input = EchoInput


class Ping(Action):
    name = "test_ping"


ACTIONS: dict[str, type[Action]] = {"test_echo": Echo, "test_ping": Ping}


def ping(step_id: str, **over: Any) -> dict[str, Any]:
    return {"id": step_id, "kind": "action", "action": "test_ping", **over}


def make(*steps: dict[str, Any], **top: Any) -> PlaybookDefinition:
    return PlaybookDefinition.model_validate({"name": "Under test", "steps": list(steps), **top})


def problems(*steps: dict[str, Any], names: list[str] | None = None, **top: Any) -> list[Problem]:
    return check(make(*steps, **top), ACTIONS, names)


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, found
    return found[0]


class TestValid:
    def test_a_full_playbook_passes(self) -> None:
        found = problems(
            ping("start", next="ask", onError="fail"),
            {
                "id": "ask",
                "kind": "question",
                "question": "Contain?",
                "options": ["yes", "no"],
                "answerMemory": "contain",
                "next": "decide",
                "onTimeout": "done",
            },
            {
                "id": "decide",
                "kind": "condition",
                "branches": [
                    {"when": 'memory.contain = "yes" and severity >= 3', "next": "each"},
                    {"when": 'alerts.hostname = "ws-1"', "next": "done"},
                ],
                "else": "done",
            },
            {"id": "each", "kind": "loop", "over": "alerts", "body": "tag", "next": "done"},
            {"id": "tag", "kind": "action", "action": "test_echo", "params": {"severity": 2}},
            {"id": "done", "kind": "end"},
            {"id": "fail", "kind": "end", "outcome": "FAILED"},
            criteria='severity >= 3 and status = "OPEN"',
        )
        assert found == []

    def test_start_may_name_a_later_step(self) -> None:
        assert problems(ping("a"), ping("b", next="a"), start="b") == []


class TestIds:
    def test_duplicate_id_names_the_repeat(self) -> None:
        found = only(problems(ping("a", next="b"), ping("b"), ping("b")))
        assert (found.step, found.field) == ("b", "steps[2].id")
        assert "steps[1]" in found.message

    def test_start_must_exist(self) -> None:
        found = only(problems(ping("a"), start="nowhere"))
        assert (found.step, found.field) == (None, "start")
        assert "'nowhere'" in found.message

    @pytest.mark.parametrize(
        ("step", "field"),
        [
            (ping("a", next="x"), "steps[0].next"),
            (ping("a", onError="x"), "steps[0].onError"),
            (
                {"id": "a", "kind": "question", "question": "?", "answerMemory": "m"}
                | {"onTimeout": "x"},
                "steps[0].onTimeout",
            ),
            (
                {
                    "id": "a",
                    "kind": "condition",
                    "branches": [{"when": "severity = 1", "next": "x"}],
                },
                "steps[0].branches[0].next",
            ),
            (
                {
                    "id": "a",
                    "kind": "condition",
                    "branches": [{"when": "severity = 1", "next": "a2"}],
                }
                | {"else": "x"},
                "steps[0].else",
            ),
            ({"id": "a", "kind": "loop", "over": "alerts", "body": "x"}, "steps[0].body"),
        ],
    )
    def test_every_reference_must_exist(self, step: dict[str, Any], field: str) -> None:
        found = [p for p in problems(step, ping("a2")) if "names no step" in p.message]
        assert [(p.step, p.field) for p in found] == [("a", field)]
        assert "'x'" in found[0].message


class TestReachability:
    def test_unreachable_step_is_named(self) -> None:
        found = only(problems(ping("a"), ping("orphan")))
        assert (found.step, found.field) == ("orphan", "steps[1]")
        assert "never reached" in found.message

    def test_loop_body_is_reached_through_its_loop(self) -> None:
        loop = {"id": "each", "kind": "loop", "over": "entities", "body": "b"}
        assert problems(loop, ping("b")) == []

    def test_steps_before_start_are_unreachable(self) -> None:
        found = only(problems(ping("a"), ping("b"), start="b"))
        assert found.step == "a"


class TestCycles:
    def test_back_edge_names_the_cycle(self) -> None:
        found = only(problems(ping("a", next="b"), ping("b", next="c"), ping("c", onError="a")))
        assert (found.step, found.field) == ("c", "steps[2].onError")
        assert "a → b → c → a" in found.message

    def test_self_loop(self) -> None:
        found = only(problems(ping("a", next="a")))
        assert (found.step, found.field) == ("a", "steps[0].next")
        assert "a → a" in found.message

    def test_explicit_edge_back_into_the_loop_is_a_cycle(self) -> None:
        loop = {"id": "each", "kind": "loop", "over": "alerts", "body": "b"}
        found = only(problems(loop, ping("b", next="each")))
        assert (found.step, found.field) == ("b", "steps[1].next")
        assert "each → b → each" in found.message

    def test_body_step_back_to_an_earlier_body_step(self) -> None:
        loop = {"id": "each", "kind": "loop", "over": "alerts", "body": "b1"}
        found = only(problems(loop, ping("b1", next="b2"), ping("b2", next="b1")))
        assert found.step == "b2" and "b1 → b2 → b1" in found.message


class TestLoopBodies:
    LOOP = {"id": "each", "kind": "loop", "over": "alerts", "body": "b", "next": "after"}

    def test_body_ends_iteration_without_next(self) -> None:
        assert problems(self.LOOP, ping("b", next="b2"), ping("b2"), ping("after")) == []

    def test_end_step_inside_a_body_is_allowed(self) -> None:
        body = ping("b", onError="stop")
        assert problems(self.LOOP, body, {"id": "stop", "kind": "end"}, ping("after")) == []

    def test_nested_loops(self) -> None:
        inner = {"id": "inner", "kind": "loop", "over": "memory.ips", "body": "ib", "next": "b2"}
        outer = {"id": "each", "kind": "loop", "over": "alerts", "body": "inner", "next": "after"}
        assert problems(outer, inner, ping("ib"), ping("b2"), ping("after")) == []

    def test_body_jumping_to_the_loops_next_is_refused(self) -> None:
        found = only(problems(self.LOOP, ping("b", next="after"), ping("after")))
        assert (found.step, found.field) == ("b", "steps[1].next")
        assert "jumps out of the body of loop 'each'" in found.message

    def test_body_error_path_to_a_shared_step_is_refused(self) -> None:
        shared = ping("notify")
        found = only(
            problems(
                ping("start", next="each", onError="notify"),
                self.LOOP,
                ping("b", onError="notify"),
                ping("after"),
                shared,
            )
        )
        assert (found.step, found.field) == ("b", "steps[2].onError")

    def test_inner_body_jumping_into_the_outer_body_is_refused(self) -> None:
        inner = {"id": "inner", "kind": "loop", "over": "memory.ips", "body": "ib", "next": "b2"}
        outer = {"id": "each", "kind": "loop", "over": "alerts", "body": "inner", "next": "after"}
        found = only(problems(outer, inner, ping("ib", next="b2"), ping("b2"), ping("after")))
        assert (found.step, found.field) == ("ib", "steps[2].next")
        assert "loop 'inner'" in found.message

    def test_entering_a_body_from_outside_is_refused(self) -> None:
        start = ping("start", next="each", onError="b")
        found = only(problems(start, self.LOOP, ping("b"), ping("after")))
        assert (found.step, found.field) == ("start", "steps[0].onError")
        assert "enters the body of loop 'each'" in found.message

    def test_loop_whose_next_is_its_body(self) -> None:
        loop = {"id": "each", "kind": "loop", "over": "alerts", "body": "b", "next": "b"}
        found = only(problems(loop, ping("b")))
        assert (found.step, found.field) == ("each", "steps[0].next")


class TestFilters:
    @staticmethod
    def condition(when: str) -> dict[str, Any]:
        return {"id": "c", "kind": "condition", "branches": [{"when": when, "next": "x"}]}

    @pytest.mark.parametrize(
        "when",
        [
            'memory.verdict = "yes"',
            "memory.hits[0].score > 5",
            'alerts.hostname = "ws-1" and severity >= 3',
            "memory.seen exists",
        ],
    )
    def test_valid_conditions(self, when: str) -> None:
        assert problems(self.condition(when), ping("x")) == []

    def test_syntax_error_names_branch_line_and_column(self) -> None:
        found = only(problems(self.condition("severity >="), ping("x")))
        assert (found.step, found.field) == ("c", "steps[0].branches[0].when")
        assert "line 1, column" in found.message

    def test_unknown_field(self) -> None:
        found = only(problems(self.condition('nosuch = "x"'), ping("x")))
        assert found.field == "steps[0].branches[0].when" and "unknown field" in found.message

    def test_memory_values_are_type_checked(self) -> None:
        found = only(problems(self.condition('memory.count > "many"'), ping("x")))
        assert found.step == "c" and "number" in found.message

    def test_criteria_binds_to_the_incident(self) -> None:
        found = only(problems(ping("a"), criteria='memory.x = "y"'))
        assert (found.step, found.field) == (None, "criteria")
        assert "unknown field" in found.message

    def test_criteria_syntax_error(self) -> None:
        found = only(problems(ping("a"), criteria="severity = = 3"))
        assert found.field == "criteria" and "line 1" in found.message

    def test_pathological_nesting_is_a_problem_not_a_crash(self) -> None:
        found = problems(ping("a"), criteria="not " * 900 + "severity = 1")
        assert all(p.field == "criteria" for p in found)


class TestActions:
    @staticmethod
    def echo(**params: Any) -> dict[str, Any]:
        return {"id": "e", "kind": "action", "action": "test_echo", "params": params}

    def test_unknown_action(self) -> None:
        found = only(problems({"id": "e", "kind": "action", "action": "nope"}))
        assert (found.step, found.field) == ("e", "steps[0].action")
        assert "test_echo" in found.message

    def test_unknown_parameter(self) -> None:
        found = only(problems(self.echo(severity=2, colour="red")))
        assert (found.step, found.field) == ("e", "steps[0].params.colour")
        assert "alertLimit" in found.message

    def test_missing_required_parameter(self) -> None:
        found = only(problems(self.echo(note="x")))
        assert (found.step, found.field) == ("e", "steps[0].params.severity")
        assert "required" in found.message

    def test_literal_out_of_range(self) -> None:
        found = only(problems(self.echo(severity=9)))
        assert (found.step, found.field) == ("e", "steps[0].params.severity")
        assert "less than or equal to 4" in found.message

    def test_literal_inside_a_list(self) -> None:
        found = only(problems(self.echo(severity=1, tags=["ok", 3])))
        assert found.field == "steps[0].params.tags[1]"

    def test_literal_choice(self) -> None:
        found = only(problems(self.echo(severity=1, mode="warp")))
        assert found.field == "steps[0].params.mode"

    def test_templated_values_are_left_to_run_time(self) -> None:
        params = {"severity": "{{ memory.sev }}", "tags": ["a", "{{ incident.source }}"]}
        assert problems(self.echo(**params)) == []

    def test_alias_and_field_name_both_accepted(self) -> None:
        assert problems(self.echo(severity=1, alertLimit=3)) == []
        assert problems(self.echo(severity=1, alert_limit=3)) == []

    def test_same_parameter_twice(self) -> None:
        found = only(problems(self.echo(severity=1, alertLimit=3, alert_limit=4)))
        assert found.field == "steps[0].params.alert_limit"

    def test_action_without_parameters(self) -> None:
        found = only(problems({**ping("a"), "params": {"x": 1}}))
        assert found.field == "steps[0].params.x"


class TestSubPlaybooks:
    @staticmethod
    def run(name: str) -> dict[str, Any]:
        return {"id": "sub", "kind": "playbook", "playbook": name}

    def test_unknown_playbook(self) -> None:
        found = only(problems(self.run("Other"), names=["Under test", "Known"]))
        assert (found.step, found.field) == ("sub", "steps[0].playbook")

    def test_known_playbook(self) -> None:
        assert problems(self.run("Known"), names=["Known"]) == []

    def test_names_not_given_skips_the_check(self) -> None:
        assert problems(self.run("Anything")) == []

    def test_a_playbook_may_not_run_itself(self) -> None:
        found = only(problems(self.run("Under test"), names=["Under test"]))
        assert found.step == "sub" and "itself" in found.message

    def test_call_cycle_through_other_playbooks(self) -> None:
        definition = make(self.run("B"))
        calls = {"Under test": {"B"}, "B": {"C"}, "C": {"Under test"}}
        found = only(call_cycles(definition, calls))
        assert (found.step, found.field) == ("sub", "steps[0].playbook")
        assert "Under test → B → C → Under test" in found.message
        assert call_cycles(definition, {"Under test": {"B"}, "B": set()}) == []


class TestShape:
    def test_problems_come_in_step_order_playbook_level_first(self) -> None:
        found = problems(
            ping("a", next="b"),
            ping("b", next="zzz"),
            {"id": "c", "kind": "action", "action": "nope"},
            criteria="bad =",
        )
        assert found[0].step is None
        steps = [p.field.split(".")[0] for p in found if p.step]
        assert steps == sorted(steps)

    def test_big_playbook_is_checked_quickly(self) -> None:
        steps = [
            {
                "id": f"s{i}",
                "kind": "action",
                "action": "test_echo",
                "params": {"severity": 1 + i % 4, "tags": ["x"], "note": "{{ incident.source }}"},
                **({"next": f"s{i + 1}"} if i < 499 else {}),
            }
            for i in range(500)
        ]
        definition = make(*steps)
        started = time.perf_counter()
        assert check(definition, ACTIONS, ["Under test"]) == []
        assert time.perf_counter() - started < 1.0
