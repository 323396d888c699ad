"""Step parameters as templates: Jinja2, sandboxed, strict, native where it can be.

`render(params, context)` walks a params structure (dicts, lists, strings) and renders every
string that holds `{{ … }}` or `{% … %}`; other values and dict keys are kept as written.

- A string that is exactly one expression (`"{{ memory.ips }}"`) yields the expression's own
  value (a list, an int, a dict, a datetime…); any other templated string yields text.
- The environment is `ImmutableSandboxedEnvironment`: no private attributes, no mutation of
  the context's lists and dicts. Autoescape is off (the output is data, not HTML).
- `StrictUndefined`: a missing name or key is an error, never an empty string.
- Every failure (syntax, undefined, sandbox, an expression that raises) is one
  `TemplateError` whose message starts with the parameter's path (`params.to[0]: …`).
- Compiled templates are cached by their source text, so a step rendered once per incident
  parses each string once per process.

The engine's context: `incident` (the API's camelCase dict), `memory`, `alerts` (may be
absent), `process` (`id`, `processHash`, `playbook`) and `now` (an aware datetime).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import StrictUndefined, Undefined, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateError", "is_templated", "render"]

_MARKERS = ("{{", "{%")
_ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
# What a failing expression may raise besides Jinja's own errors (`{{ 1 / 0 }}`, `{{ 'a' + 1 }}`).
_EVALUATION_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError)


class TemplateError(ValueError):
    """A parameter's template could not be compiled or rendered; the message names its path."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A compiled string: `native` when it is one expression evaluated to its own value."""

    tree: nodes.Template
    text: Template | None = None
    native: TemplateExpression | None = None


def is_templated(value: Any) -> bool:
    """True when `value` is, or (in a list or dict) holds, a string with `{{` or `{%`."""
    if isinstance(value, str):
        return any(marker in value for marker in _MARKERS)
    if isinstance(value, Mapping):
        return any(is_templated(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_templated(item) for item in value)
    return False


def render(value: Any, context: Mapping[str, Any], path: str = "params") -> Any:
    """`value` with every templated string rendered against `context` (raises TemplateError)."""
    if isinstance(value, str):
        return _render_string(value, context, path) if is_templated(value) else value
    if isinstance(value, Mapping):
        return {key: render(item, context, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, context, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _render_string(source: str, context: Mapping[str, Any], path: str) -> Any:
    try:
        compiled = _compile(source)
    except jinja2.TemplateSyntaxError as exc:
        line = f" (line {exc.lineno})" if "\n" in source else ""
        raise TemplateError(f"{path}: {exc.message}{line}") from None
    variables = dict(context)
    try:
        if compiled.native is not None:
            result = compiled.native(variables)
            _check_defined(result)
            return result
        assert compiled.text is not None
        return compiled.text.render(variables)
    except _EVALUATION_ERRORS as exc:
        explained = _explain_missing(compiled.tree, variables)
        message = explained if explained and isinstance(exc, jinja2.UndefinedError) else exc
        raise TemplateError(f"{path}: {message}") from None


@lru_cache(maxsize=2048)
def _compile(source: str) -> _Compiled:
    """Parse and compile once per distinct source text."""
    tree = _ENV.parse(source)
    expression = _single_expression(tree)
    if expression is None:
        return _Compiled(tree, text=_ENV.from_string(tree))
    # What `Environment.compile_expression` builds, from the expression already parsed.
    body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
    template = _ENV.from_string(nodes.Template(body, lineno=1))
    return _Compiled(tree, native=TemplateExpression(template, undefined_to_none=False))


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression when the template is exactly `{{ expression }}`, else None."""
    output = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(output, nodes.Output):
        return None
    parts = output.nodes
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    return parts[0]


def _check_defined(value: Any) -> None:
    """Raise UndefinedError if an undefined value hides in a native result."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises its own, precise, UndefinedError
    elif isinstance(value, dict):
        for item in value.values():
            _check_defined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_defined(item)


def _explain_missing(tree: nodes.Template, context: Mapping[str, Any]) -> str | None:
    """Name the first missing key of a constant path (`'incident' has no attribute 'foo'`)."""
    assigned = {name.name for name in tree.find_all(nodes.Name) if name.ctx != "load"}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _chain(node)
        if chain is None or chain[0] in assigned or chain[0] not in context:
            continue
        root, keys = chain
        value: Any = context[root]
        where = root
        for key in keys:
            if isinstance(key, str) and hasattr(value, key):
                break  # a method such as `items`: not a missing key
            if isinstance(value, Mapping) and key in value:
                value, where = value[key], f"{where}.{key}"
            elif isinstance(value, list | tuple) and isinstance(key, int):
                if -len(value) <= key < len(value):
                    value, where = value[key], f"{where}[{key}]"
                    continue
                return f"{where!r} has no item {key} (it has {len(value)})"
            elif isinstance(value, Mapping):
                return f"{where!r} has no attribute {key!r}"
            else:
                break  # not plain data: Jinja's own message says it best
    return None


def _chain(node: nodes.Node) -> tuple[str, list[str | int]] | None:
    """`incident.details["x"]` → ("incident", ["details", "x"]); None when not constant."""
    keys: list[str | int] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
            keys.append(node.arg.value)
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name):
        return None
    keys.reverse()
    return node.name, keys
