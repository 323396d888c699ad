"""A playbook as a document: YAML and JSON in, YAML and stored JSON out.

One import path for both formats: the text becomes plain data (`load_yaml` for YAML, the JSON
parser for JSON), and `parse_definition` validates it, so both answer with the same errors. The
same names and shapes go out: `to_document` is what a version stores and the API returns
(camelCase, durations as `15m`), and `dump_yaml` writes it in a fixed key order without the
defaults that are noise. `load_yaml(dump_yaml(d)) == d`.

YAML is read with a safe loader that also keeps the text JSON-like: scalars resolve as in YAML
1.2 (`true`/`false` are the only booleans, so `yes`, `no`, `on`, `off` stay text; `010`,
`1_000` and `12:30` stay text; so do timestamps; `<<` is an ordinary key), anchors and aliases
are refused, and a value that JSON cannot hold (binary, a set, `.nan`) is refused by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from muster.errors import InvalidInput
from muster.playbooks.definition import (
    ActionStep,
    ConditionStep,
    EndStep,
    LoopStep,
    PlaybookDefinition,
    PlaybookStep,
    QuestionStep,
    format_duration,
)

__all__ = ["dump_yaml", "load_yaml", "parse_definition", "to_document"]

TOP_ORDER = (
    "name",
    "description",
    "trigger",
    "enabled",
    "weight",
    "criteria",
    "start",
    "handBack",
    "steps",
)
NOISE = {"description": ""}  # top-level values left out of YAML besides null
ALWAYS_SHOWN = frozenset({"name", "trigger", "enabled", "weight", "handBack", "steps"})
STEP_FIRST = ("id", "name", "kind")
STEP_LAST = ("next", "onError")
STEP_ALWAYS_SHOWN = frozenset({"id", "kind", "timeout"})
STEP_KINDS = frozenset({"action", "condition", "question", "loop", "playbook", "end"})
MAX_DEPTH = 100
ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")  # line breaks to YAML besides \n


class _Loader(yaml.SafeLoader):
    """Safe loading with JSON's value types and no aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (*name) are not accepted", mark
            )
        return super().compose_node(parent, index)


# JSON's scalars, spelled as YAML 1.2 does: no `yes`/`on`, octal `010`, `1_000`, `12:30`
_TAG = "tag:yaml.org,2002:"
_SCALARS = {
    "bool": (r"true|True|TRUE|false|False|FALSE", "tTfF"),
    "int": (r"[-+]?(?:0|[1-9][0-9]*)", "-+0123456789"),
    "float": (
        r"[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+"
        r"|\.(?:inf|Inf|INF))|\.(?:nan|NaN|NAN)",
        "-+0123456789.",
    ),
}
_REPLACED = {_TAG + name for name in (*_SCALARS, "timestamp", "merge", "value")}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _name, (_pattern, _first) in _SCALARS.items():
    _Loader.add_implicit_resolver(_TAG + _name, re.compile(f"^(?:{_pattern})$"), list(_first))


class _Dumper(yaml.SafeDumper):
    """Block style, no aliases, multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None
    if any(c in value for c in ODD_BREAKS):  # only double quotes keep these exactly
        style = '"'
    elif "\n" in value:
        style = "|"
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)
# text that either YAML 1.1 or the loader above would read as something else is quoted
_Dumper.yaml_implicit_resolvers = {
    first: [
        *yaml.SafeDumper.yaml_implicit_resolvers.get(first, []),
        *_Loader.yaml_implicit_resolvers.get(first, []),
    ]
    for first in {*yaml.SafeDumper.yaml_implicit_resolvers, *_Loader.yaml_implicit_resolvers}
}


def load_yaml(text: str) -> PlaybookDefinition:
    """The definition in a YAML text, or `InvalidInput` naming the line and column at fault."""
    node, data = _compose(text)
    if data is None:
        raise InvalidInput.field("body", "is empty; send a playbook", code="request.malformed_yaml")
    _check_json_like(data, "", 0, node)
    return parse_definition(data, node=node)


def _compose(text: str) -> tuple[Any, Any]:
    """The YAML node tree (for positions) and the plain data of the text."""
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or "is not valid YAML"
        if exc.context:
            message += f" ({exc.context})"
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise _yaml_error(message, *where) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        message = f"holds a character YAML does not allow: #x{exc.character:04x}"
        raise _yaml_error(message, line, column) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(f"is not valid YAML: {exc}", 1, 1) from None
    except RecursionError:
        message = "is nested too deeply"
        raise InvalidInput.field("body", message, code="request.malformed_yaml") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(message: str, line: int, column: int) -> InvalidInput:
    entry = {"field": "body", "message": message, "line": line, "column": column}
    return InvalidInput(
        f"body: YAML error at line {line}, column {column}: {message}",
        code="request.malformed_yaml",
        errors=[entry],
    )


def _check_json_like(value: Any, path: str, depth: int, node: Any) -> None:
    """Refuse what JSON cannot hold, naming the field and its line."""
    if depth > MAX_DEPTH:
        raise _at(path, f"is nested more than {MAX_DEPTH} levels deep", node)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _at(path or "body", f"has a key that is not text: {key!r}", node)
            _check_json_like(item, f"{path}.{key}" if path else key, depth + 1, _child(node, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json_like(item, f"{path}[{i}]", depth + 1, _child(node, i))
    elif isinstance(value, float) and not math.isfinite(value):
        raise _at(path, "must be a finite number", node)
    elif value is not None and not isinstance(value, str | int | float | bool):
        message = f"holds a YAML {type(value).__name__}; JSON values only (text, numbers, true, …)"
        raise _at(path, message, node)


def _at(field: str, message: str, node: Any) -> InvalidInput:
    entry: dict[str, Any] = {"field": field or "body", "message": message}
    if node is not None:
        entry.update(line=node.start_mark.line + 1, column=node.start_mark.column + 1)
    return InvalidInput(f"{entry['field']}: {message}", errors=[entry])


def _child(node: Any, part: str | int) -> Any:
    """The YAML node under `part` (a mapping key or a list index), or None."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def parse_definition(data: Any, *, node: Any = None) -> PlaybookDefinition:
    """Validate plain data as a definition, or `InvalidInput` listing every offending field."""
    if not isinstance(data, Mapping):
        raise InvalidInput.field("body", "must be a mapping of playbook fields (name, steps, …)")
    try:
        return PlaybookDefinition.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = _api_loc(err["loc"])
            entry: dict[str, Any] = {"field": _field(loc) or "body", "message": err["msg"]}
            at = _node_at(node, loc)
            if at is not None:
                entry.update(line=at.start_mark.line + 1, column=at.start_mark.column + 1)
            errors.append(entry)
        first = errors[0]
        raise InvalidInput(f"{first['field']}: {first['message']}", errors=errors) from None


def _api_loc(loc: tuple[int | str, ...]) -> list[int | str]:
    """A pydantic location without the step kind it adds (`steps.3.question.timeout`)."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        after_step = i >= 2 and loc[i - 2] == "steps" and isinstance(loc[i - 1], int)
        if not (after_step and part in STEP_KINDS):
            out.append(part)
    return out


def _field(loc: list[int | str]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    return text.lstrip(".")


def _node_at(node: Any, loc: list[int | str]) -> Any:
    for part in loc:
        if node is None:
            return None
        found = _child(node, part)
        if found is None:
            return node  # the nearest enclosing node (a missing field's mapping)
        node = found
    return node


def to_document(definition: PlaybookDefinition, *, compact: bool = False) -> dict[str, Any]:
    """The definition as JSON-ready data in API names and a fixed key order."""
    data = definition.model_dump(mode="python", by_alias=True)
    top = {
        k: data[k]
        for k in TOP_ORDER
        if not compact or k in ALWAYS_SHOWN or data[k] not in (None, NOISE.get(k))
    }
    top["steps"] = [_step_document(step, compact) for step in data["steps"]]
    return top


def _step_document(step: dict[str, Any], compact: bool) -> dict[str, Any]:
    kind_fields = [k for k in step if k not in STEP_FIRST and k not in STEP_LAST]
    ordered = {k: step[k] for k in (*STEP_FIRST, *kind_fields, *STEP_LAST)}
    if compact:
        defaults = _STEP_DEFAULTS[step["kind"]]
        if isinstance(ordered.get("ask"), dict):  # `email: null` is noise
            ordered["ask"] = {k: v for k, v in ordered["ask"].items() if v is not None}
            defaults = {**defaults, "ask": {"to": "analysts"}}
        ordered = {
            k: v
            for k, v in ordered.items()
            if k in STEP_ALWAYS_SHOWN or k not in defaults or defaults[k] != v
        }
    return {k: format_duration(v) if isinstance(v, timedelta) else v for k, v in ordered.items()}


def _defaults_of_kinds() -> dict[str, dict[str, Any]]:
    """Step kind -> API name -> default value (as `model_dump` shows it)."""
    out: dict[str, dict[str, Any]] = {}
    for model in (ActionStep, ConditionStep, QuestionStep, LoopStep, PlaybookStep, EndStep):
        defaults: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            if not info.is_required():
                value = info.get_default(call_default_factory=True)
                dumped = value.model_dump(by_alias=True) if hasattr(value, "model_dump") else value
                defaults[info.alias or name] = dumped
        out[get_args(model.model_fields["kind"].annotation)[0]] = defaults
    return out


_STEP_DEFAULTS = _defaults_of_kinds()


def dump_yaml(definition: PlaybookDefinition) -> str:
    """The definition as YAML (`load_yaml` reads it back to an equal definition)."""
    text: str = yaml.dump(
        to_document(definition, compact=True),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text
