"""What a regular expression costs before it runs: counted repeats expand when compiled.

The `regex` module (like PostgreSQL's engine) copies a group once per count of a `{n}` or
`{m,n}` repeat, so nested counts multiply: `(a{65535}){65535}`, twenty characters, asks for
four billion copies and exhausts the memory of the process compiling it. Matching is bounded
separately (a timeout per match, `muster.query.evaluate.REGEX_TIMEOUT`); this bounds compiling.

`repeat_cost` reads the pattern once, without compiling it: every atom (a character, an
escape, a class) counts 1, a group the sum of what it holds, a counted repeat multiplies what
it repeats by its largest count. The result over-estimates alternations (each branch counts)
and never under-estimates a counted repeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_REPEAT = 255  # the largest count of one repeat (PostgreSQL refuses more)
MAX_EXPANSION = 10_000  # atoms once counted repeats are expanded (a compile of ~10 ms)

_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


@dataclass(frozen=True, slots=True)
class RepeatCost:
    """The largest single count of a pattern and the size it expands to."""

    largest_count: int
    expansion: int


def repeat_cost(pattern: str) -> RepeatCost:
    """The pattern's counted repeats: the largest count and the expanded size."""
    frames: list[list[int]] = [[]]  # per open group: the cost of each atom so far
    largest, at = 0, 0
    while at < len(pattern):
        char = pattern[at]
        count = _COUNT.match(pattern, at) if char == "{" else None
        if count is not None and any(count.groups()) and frames[-1]:
            bound = max(int(n) for n in count.groups() if n)
            largest = max(largest, bound)
            frames[-1][-1] *= max(bound, 1)
            at = count.end()
        elif char == "(":
            frames.append([])
            at += 1
        elif char == ")" and len(frames) > 1:
            inner = frames.pop()
            frames[-1].append(max(sum(inner), 1))
            at += 1
        else:
            frames[-1].append(1)
            at = _class_end(pattern, at) if char == "[" else at + (2 if char == "\\" else 1)
    return RepeatCost(largest, sum(sum(frame) for frame in frames))


def _class_end(pattern: str, start: int) -> int:
    """The index after the character class opening at `start` (`[]...]`, `[^]...]`)."""
    at = start + 1
    if pattern.startswith("^", at):
        at += 1
    if pattern.startswith("]", at):
        at += 1
    while at < len(pattern) and pattern[at] != "]":
        at += 2 if pattern[at] == "\\" else 1
    return at + 1


def repeat_problem(pattern: str) -> str | None:
    """Why the pattern would cost too much to compile, or None when it is cheap enough."""
    cost = repeat_cost(pattern)
    if cost.largest_count > MAX_REPEAT:
        return f"a repeat counts at most {MAX_REPEAT}, not {cost.largest_count}"
    if cost.expansion > MAX_EXPANSION:
        return (
            f"the pattern's counted repeats expand to {cost.expansion} items "
            f"(at most {MAX_EXPANSION})"
        )
    return None
