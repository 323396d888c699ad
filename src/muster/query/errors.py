"""Filter errors: `InvalidInput` with stable `query.*` codes, rendered as 400 problem+json.

query.syntax_error   the text does not parse (1-based line/column, what was expected)
query.too_long       longer than MAX_LENGTH characters
query.unknown_field  the field is not in the subject's catalogue (the valid ones are named)
query.type_mismatch  the value does not suit the field or the operator
query.bad_regex      the pattern does not compile or is too long
query.bad_cidr       the network is not an IPv4 or IPv6 CIDR
"""

from __future__ import annotations

from typing import Any

from muster.errors import InvalidInput


class QueryError(InvalidInput):
    """A filter expression that cannot be used; `errors[0]` carries the position."""

    code = "query.syntax_error"


def query_error(
    code: str, message: str, *, line: int = 1, column: int = 1, field: str = "filter", **extra: Any
) -> QueryError:
    """Build a `QueryError` whose first error names the parameter, position and message."""
    entry: dict[str, Any] = {"field": field, "message": message, "line": line, "column": column}
    entry.update(extra)
    return QueryError(
        f"{field}: {message} (line {line}, column {column})", code=code, errors=[entry]
    )
