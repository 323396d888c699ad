"""A structural audit (no database): no secret is compared with `==` or `!=` in src/muster.

Python's string equality stops at the first differing character, so comparing a presented
secret with the expected one that way leaks, through timing, how much of it was right. Secrets
are compared with `hmac.compare_digest` (API keys, CSRF tokens, webhook signatures, the
metrics token) or looked up by a hash the caller cannot steer (session tokens: an SQL equality
on `WebSession.token_hash`, which the audit allows as a column of a mapped class). The audit
is a function over source text, tested on a deliberately broken sample so it can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import muster

SECRET = re.compile(
    r"token|secret|password|passwd|csrf|signature|digest|key_?hash|api_?key|plaintext|credential",
    re.IGNORECASE,
)
# names that look like secrets and are not, with why
NOT_SECRETS = {"signature_style": "the name of a signing format (standard, contraforce)"}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    return None


def _sql_column(node: ast.expr) -> bool:
    """`Model.column`: an SQL expression, compared in the database on an index."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def secret_comparisons(source: str) -> Iterator[tuple[int, str]]:
    """(line, code) of every `==` / `!=` with an operand named like a secret."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
            continue
        sides = [node.left, *node.comparators]
        if any(_sql_column(side) for side in sides):
            continue
        names = [name for side in sides if (name := _name(side))]
        if any(SECRET.search(n) and n not in NOT_SECRETS for n in names):
            yield node.lineno, ast.unparse(node)


def test_no_secret_is_compared_with_equality() -> None:
    root = Path(muster.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 100, "the audit must see the whole package"
    found = [
        f"{path.relative_to(root)}:{line}: {code}"
        for path in files
        for line, code in secret_comparisons(path.read_text())
    ]
    assert not found, "use hmac.compare_digest:\n" + "\n".join(found)


def test_the_audit_catches_an_early_exit_comparison() -> None:
    broken = (
        "def check(presented, expected_token, request, row):\n"
        "    if presented == expected_token: ...\n"
        "    if request.headers['X-CSRF-Token'] != row.csrf: ...\n"
        "    if hash_key(presented) == row.key_hash: ...\n"
        "    if row.signature_style == 'contraforce': ...\n"
        "    if WebSession.token_hash == hash_token(presented): ...\n"
    )
    assert [line for line, _ in secret_comparisons(broken)] == [2, 3, 4]
