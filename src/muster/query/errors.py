"""Filter errors: `InvalidInput` with stable `query.*` codes, rendered as 400 problem+json.

query.syntax_error   the text does not parse (1-based line/column, what was expected)
query.too_long       longer than MAX_LENGTH characters
query.too_deep       and/or/not nested deeper than MAX_DEPTH levels
query.out_of_range   a number beyond 64 bits (or not finite), a relative time beyond
                     MAX_RELATIVE, a list index beyond MAX_INDEX
query.unknown_field  the field is not in the subject's catalogue (the valid ones are named)
query.type_mismatch  the value does not suit the field or the operator
query.bad_regex      the pattern does not compile or is too long
query.bad_cidr       the network is not an IPv4 or IPv6 CIDR

A pattern the `regex` module reads may still be one PostgreSQL's engine refuses (`\\p{L}`,
named groups): `from_database` turns that refusal, raised when the list runs, into
`query.bad_regex` too.
"""

from __future__ import annotations

from typing import Any

from muster.errors import InvalidInput


class QueryError(InvalidInput):
    """A filter expression that cannot be used; `errors[0]` carries the position."""

    code = "query.syntax_error"


INVALID_REGULAR_EXPRESSION = "2201B"  # PostgreSQL's SQLSTATE


def from_database(exc: BaseException) -> QueryError | None:
    """The filter error a database's refusal of a statement stands for, or None."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) != INVALID_REGULAR_EXPRESSION:
        return None
    reason = str(orig).strip().splitlines()[0] if str(orig).strip() else "refused"
    return query_error("query.bad_regex", f"PostgreSQL cannot use the pattern: {reason}")


def query_error(
    code: str, message: str, *, line: int = 1, column: int = 1, field: str = "filter", **extra: Any
) -> QueryError:
    """Build a `QueryError` whose first error names the parameter, position and message."""
    entry: dict[str, Any] = {"field": field, "message": message, "line": line, "column": column}
    entry.update(extra)
    return QueryError(
        f"{field}: {message} (line {line}, column {column})", code=code, errors=[entry]
    )
