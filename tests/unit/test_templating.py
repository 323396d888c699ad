"""`muster.soar.templating`: native values, text, strict names, the sandbox, error paths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from muster.soar import templating
from muster.soar.templating import TemplateError, is_templated, render

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture()
def context() -> dict[str, Any]:
    return {
        "incident": {
            "id": "7d3c1f0e-0000-4000-8000-000000000001",
            "incidentHash": "ABCD-EFGH",
            "severity": 3,
            "tags": ["phishing"],
            "details": {"owner": "soc"},
        },
        "memory": {"ips": ["10.0.0.1", "192.0.2.7"], "count": 2, "verdict": {"bad": True}},
        "alerts": [{"hostname": "ws-1", "srcIp": "10.0.0.1"}],
        "process": {"id": "p-1", "processHash": "P123-4567", "playbook": "triage"},
        "now": NOW,
    }


class TestNativeValues:
    def test_a_lone_expression_yields_the_value_itself(self, context: dict[str, Any]) -> None:
        assert render("{{ memory.ips }}", context) == ["10.0.0.1", "192.0.2.7"]
        assert render("{{ memory.count + 1 }}", context) == 3
        assert render("{{ memory.verdict }}", context) == {"bad": True}
        assert render("{{ now }}", context) is NOW
        assert render("{{- incident.severity -}}", context) == 3

    def test_a_literal_list_of_values_stays_native(self, context: dict[str, Any]) -> None:
        assert render("{{ [incident.severity, memory.count] }}", context) == [3, 2]

    def test_anything_else_is_text(self, context: dict[str, Any]) -> None:
        assert render("sev {{ incident.severity }}", context) == "sev 3"
        assert render("{{ memory.count }}{{ memory.count }}", context) == "22"
        assert render(" {{ memory.count }}", context) == " 2"
        assert render("{% if memory.verdict.bad %}block{% else %}allow{% endif %}", context) == (
            "block"
        )
        assert render("{% for ip in memory.ips %}{{ ip }};{% endfor %}", context) == (
            "10.0.0.1;192.0.2.7;"
        )

    def test_a_trailing_newline_is_kept_in_text(self, context: dict[str, Any]) -> None:
        assert render("#{{ process.processHash }}\n", context) == "#P123-4567\n"


class TestStructures:
    def test_dicts_and_lists_are_walked_and_keys_kept(self, context: dict[str, Any]) -> None:
        params = {
            "to": ["soc@example.test", "{{ incident.details.owner }}@example.test"],
            "subject": "Incident {{ incident.incidentHash }}",
            "{{ not_a_template_key }}": "{{ memory.count }}",
            "nested": {"ips": "{{ memory.ips }}", "n": 5, "flag": None},
        }
        assert render(params, context) == {
            "to": ["soc@example.test", "soc@example.test"],
            "subject": "Incident ABCD-EFGH",
            "{{ not_a_template_key }}": 2,
            "nested": {"ips": ["10.0.0.1", "192.0.2.7"], "n": 5, "flag": None},
        }

    def test_plain_values_are_returned_untouched(self, context: dict[str, Any]) -> None:
        plain = {"a": "no template { here }", "b": 1.5, "c": [True, None]}
        assert render(plain, context) == plain

    def test_a_rendered_value_cannot_change_the_context(self, context: dict[str, Any]) -> None:
        ips = render("{{ memory.ips }}", context)
        assert ips is context["memory"]["ips"]  # the same object: no copy per step


class TestErrors:
    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"url": "{{ incident.foo }}"}, "params.url: 'incident' has no attribute 'foo'"),
            (
                {"url": "http://x/{{ incident.details.missing }}"},
                "params.url: 'incident.details' has no attribute 'missing'",
            ),
            ({"to": ["ok", "{{ nobody }}"]}, "params.to[1]: 'nobody' is undefined"),
            (
                {"a": {"b": "{{ memory.ips[5] }}"}},
                "params.a.b: 'memory.ips' has no item 5 (it has 2)",
            ),
            ({"x": "{{ [memory.absent] }}"}, "params.x: 'memory' has no attribute 'absent'"),
        ],
    )
    def test_a_missing_name_names_the_parameter_and_the_path(
        self, context: dict[str, Any], params: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(TemplateError) as caught:
            render(params, context)
        assert str(caught.value) == message

    def test_a_loop_variable_is_not_mistaken_for_the_context(self, context: dict[str, Any]) -> None:
        with pytest.raises(TemplateError, match=r"^params\.body: 'str object' has no attr"):
            render(
                {"body": "{% for incident in memory.ips %}{{ incident.x }}{% endfor %}"}, context
            )

    def test_a_syntax_error_names_the_parameter(self, context: dict[str, Any]) -> None:
        with pytest.raises(TemplateError, match=r"^params\.subject: unexpected end of template"):
            render({"subject": "{{ incident.severity "}, context)

    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{ incident.__class__ }}",
            "{{ memory.ips.append('6.6.6.6') }}",
            "{{ memory.verdict.update({'bad': False}) }}",
        ],
    )
    def test_the_sandbox_refuses_internals_and_mutation(
        self, context: dict[str, Any], source: str
    ) -> None:
        with pytest.raises(TemplateError, match=r"^params\.x: .*unsafe"):
            render({"x": source}, context)
        assert context["memory"]["ips"] == ["10.0.0.1", "192.0.2.7"]
        assert context["memory"]["verdict"] == {"bad": True}

    def test_an_expression_that_raises_is_a_template_error(self, context: dict[str, Any]) -> None:
        with pytest.raises(TemplateError, match=r"^params\.n: division by zero"):
            render({"n": "{{ memory.count / 0 }}"}, context)

    def test_the_error_is_a_value_error(self) -> None:
        assert issubclass(TemplateError, ValueError)


class TestCache:
    def test_each_source_is_compiled_once(self, context: dict[str, Any]) -> None:
        source = "cache probe {{ memory.count }} " + str(id(context))
        render(source, context)
        misses = templating._compile.cache_info().misses
        for _ in range(5):
            assert render(source, context) == f"cache probe 2 {id(context)}"
        assert templating._compile.cache_info().misses == misses


class TestIsTemplated:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("{{ memory.x }}", True),
            ("a {% if x %}b{% endif %}", True),
            ("plain", False),
            ("{ not } {# comment #}", False),
            (["a", {"b": "{{ c }}"}], True),
            ({"a": [1, 2, "x"]}, False),
            (3, False),
            (None, False),
        ],
    )
    def test_templated_strings_are_found_anywhere(self, value: Any, expected: bool) -> None:
        assert is_templated(value) is expected
