"""`muster.playbooks.yaml_io`: YAML in and out, round trips, and errors naming the line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from muster.errors import InvalidInput
from muster.playbooks.definition import PlaybookDefinition
from muster.playbooks.yaml_io import dump_yaml, load_yaml, parse_definition, to_document

SAMPLE = """\
name: Contain ransomware
description: |
  Ask before isolating.
  Then act.
trigger: incident
weight: 50
criteria: severity >= 4
steps:
- id: confirm
  kind: question
  question: Isolate the host?
  options: [yes, no]
  answerMemory: isolate
  timeout: 15m
  next: decide
- id: decide
  kind: condition
  branches:
  - when: memory.isolate = "yes"
    next: isolate
  else: done
- id: isolate
  kind: action
  action: set_severity
  params: {severity: 4, since: 2024-01-01}
  next: done
- id: done
  kind: end
"""


def invalid(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        load_yaml(text)
    return caught.value


class TestLoad:
    def test_sample(self) -> None:
        definition = load_yaml(SAMPLE)
        assert definition.weight == 50 and definition.description.endswith("Then act.\n")
        question = definition.step("confirm")
        assert question.timeout == timedelta(minutes=15)  # type: ignore[union-attr]
        assert question.options == ["yes", "no"]  # type: ignore[union-attr]

    def test_yes_no_and_timestamps_stay_text(self) -> None:
        params = load_yaml(SAMPLE).step("isolate").params  # type: ignore[union-attr]
        assert params == {"severity": 4, "since": "2024-01-01"}

    def test_only_true_and_false_are_booleans(self) -> None:
        assert load_yaml("name: x\nenabled: false\nsteps: [{id: a, kind: end}]").enabled is False
        text = "name: x\nsteps: [{id: a, kind: action, action: b, params: {v: [on, No, TRUE]}}]"
        assert load_yaml(text).steps[0].params == {"v": ["on", "No", True]}  # type: ignore[union-attr]

    def test_scalars_resolve_as_json_would(self) -> None:
        text = (
            "name: x\nsteps: [{id: a, kind: action, action: b, params: "
            "{a: 010, b: 1_000, c: 12:30, d: 1e3, e: -1.5, f: 7, g: ~, h: 0x1F, '<<': m}}]"
        )
        params = load_yaml(text).steps[0].params  # type: ignore[union-attr]
        assert params == {
            "a": "010",
            "b": "1_000",
            "c": "12:30",
            "d": 1000.0,
            "e": -1.5,
            "f": 7,
            "g": None,
            "h": "0x1F",
            "<<": "m",
        }

    def test_same_definition_as_json(self) -> None:
        data = yaml.safe_load(SAMPLE)
        data["steps"][0]["options"] = ["yes", "no"]
        data["steps"][2]["params"]["since"] = "2024-01-01"
        assert parse_definition(data) == load_yaml(SAMPLE)


class TestErrors:
    def test_syntax_error_names_line_and_column(self) -> None:
        error = invalid("name: x\nsteps:\n  - id: a\n   kind: end\n")
        assert error.code == "request.malformed_yaml"
        entry = error.errors[0]
        assert entry["field"] == "body" and entry["line"] == 4
        assert "line 4" in error.detail

    def test_unclosed_flow(self) -> None:
        error = invalid("name: [x\n")
        assert error.errors[0]["line"] == 2 and "line 2" in error.detail

    def test_validation_errors_name_field_and_line(self) -> None:
        error = invalid("name: x\nsteps:\n- id: a\n  kind: question\n  timeout: 99y\n")
        fields = {e["field"]: e for e in error.errors}
        assert fields.keys() == {"steps[0].question", "steps[0].answerMemory", "steps[0].timeout"}
        assert fields["steps[0].timeout"]["line"] == 5
        assert error.code == "validation_failed"
        assert error.detail.startswith("steps[0].")

    def test_unknown_top_level_field(self) -> None:
        error = invalid("name: x\ncolour: red\nsteps: [{id: a, kind: end}]\n")
        assert error.errors[0]["field"] == "colour" and error.errors[0]["line"] == 2

    def test_aliases_are_refused(self) -> None:
        error = invalid("name: &n x\ndescription: *n\nsteps: [{id: a, kind: end}]\n")
        assert error.errors[0]["line"] == 2 and "alias" in error.detail

    def test_python_tags_are_refused(self) -> None:
        error = invalid("name: !!python/object:os.system x\nsteps: []\n")
        assert error.code == "request.malformed_yaml" and error.errors[0]["line"] == 1

    @pytest.mark.parametrize(
        ("text", "field"),
        [
            ("name: !!binary aGk=\nsteps: [{id: a, kind: end}]\n", "name"),
            ("name: x\nweight: .nan\nsteps: [{id: a, kind: end}]\n", "weight"),
            ("name: x\nsteps: [{id: a, kind: action, action: b, params: {1: x}}]\n", "steps[0]"),
        ],
    )
    def test_values_json_cannot_hold(self, text: str, field: str) -> None:
        assert invalid(text).errors[0]["field"].startswith(field)

    @pytest.mark.parametrize("text", ["", "# nothing\n", "- a\n- b\n", "just text\n"])
    def test_not_a_mapping(self, text: str) -> None:
        assert invalid(text).errors[0]["field"] == "body"

    def test_control_character_names_its_position(self) -> None:
        error = invalid("name: x\nsteps:\n- a\x07b\n")
        assert (error.errors[0]["line"], error.errors[0]["column"]) == (3, 4)

    @pytest.mark.parametrize("depth", [120, 5000])
    def test_deep_nesting(self, depth: int) -> None:
        error = invalid("name: x\nsteps: " + "[" * depth + "]" * depth + "\n")
        assert "deep" in error.detail

    def test_several_documents(self) -> None:
        error = invalid("name: x\n---\nname: y\n")
        assert error.code == "request.malformed_yaml" and error.errors[0]["line"] == 2


class TestDump:
    def test_key_order_durations_and_no_noise(self) -> None:
        text = dump_yaml(load_yaml(SAMPLE))
        keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
        top = ["name", "description", "trigger", "enabled", "weight", "criteria", "handBack"]
        assert keys == [*top, "steps"]
        assert "timeout: 15m" in text
        assert "name: ''" not in text and "onError" not in text and "retries" not in text
        assert "description: |" in text

    def test_step_keys_start_with_id_and_kind(self) -> None:
        text = dump_yaml(load_yaml(SAMPLE))
        assert "- id: confirm\n  kind: question\n" in text

    def test_plain_yaml_reads_it(self) -> None:
        definition = load_yaml(SAMPLE)
        assert yaml.safe_load(dump_yaml(definition)) == to_document(definition, compact=True)

    def test_stored_document_loads_back(self) -> None:
        definition = load_yaml(SAMPLE)
        document = to_document(definition)
        assert document["steps"][0]["timeout"] == "15m"
        assert PlaybookDefinition.model_validate(document) == definition

    def test_round_trip_of_the_sample(self) -> None:
        definition = load_yaml(SAMPLE)
        assert load_yaml(dump_yaml(definition)) == definition


@pytest.mark.parametrize(
    "text",
    ["yes", "null", "2024-01-01", "1e3", "a\nb ", "  indented\nx\n\n", "x\r\ny", "\x85", "#", ""],
)
def test_round_trip_of_tricky_text(text: str) -> None:
    definition = PlaybookDefinition.model_validate(
        {
            "name": "x",
            "description": text,
            "steps": [{"id": "a", "kind": "action", "action": "b", "params": {text: [text]}}],
        }
    )
    assert load_yaml(dump_yaml(definition)) == definition


# -- round trip over generated definitions ---------------------------------------------------

ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,8}", fullmatch=True)
TRICKY = ["yes", "No", "010", "1_000", "12:30", "1e3", ".5", "0x1F", "<<", "=", "~", "null", "-"]
texts = st.sampled_from(TRICKY) | st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30
)
names = texts.map(str.strip).filter(bool)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
common = {"id": ids, "name": texts, "next": st.none() | ids, "onError": st.none() | ids}


def step(kind: str, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"kind": st.just(kind), **common, **fields})


steps = st.one_of(
    step("action", action=names, params=st.dictionaries(texts, json_values, max_size=3)),
    step(
        "condition",
        branches=st.lists(
            st.fixed_dictionaries({"when": texts, "next": ids}), min_size=1, max_size=2
        ),
        **{"else": st.none() | ids},
    ),
    step(
        "question",
        question=texts,
        options=st.lists(texts, max_size=3, unique=True),
        answerMemory=st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True),
        timeout=st.integers(1, 30 * 86400),
        onTimeout=st.none() | ids,
    ),
    step("loop", over=st.sampled_from(["alerts", "entities", "memory.ips"]), body=ids),
    step("playbook", playbook=names),
    step("end", outcome=st.sampled_from(["FINISHED", "FAILED"])),
)
definitions = st.fixed_dictionaries(
    {
        "name": names,
        "description": texts,
        "trigger": st.sampled_from(["incident", "email", "manual"]),
        "enabled": st.booleans(),
        "weight": st.integers(-1000, 1000),
        "criteria": st.none() | texts,
        "start": st.none() | ids,
        "handBack": st.sampled_from(["previous", "unassigned", "keep"]),
        "steps": st.lists(steps, min_size=1, max_size=4),
    }
).map(PlaybookDefinition.model_validate)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions)
def test_round_trip(definition: PlaybookDefinition) -> None:
    assert load_yaml(dump_yaml(definition)) == definition
    assert PlaybookDefinition.model_validate(to_document(definition)) == definition
