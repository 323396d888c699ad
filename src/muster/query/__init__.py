"""The filter language (DESIGN.md §3): one parser, a Python back end and a SQL back end."""

from muster.query.errors import QueryError
from muster.query.evaluate import Predicate, compile_predicate
from muster.query.fields import ALERT_FIELDS, INCIDENT_FIELDS, Subject
from muster.query.parser import MAX_LENGTH, parse, parse_cached
from muster.query.tree import Expr

__all__ = [
    "ALERT_FIELDS",
    "INCIDENT_FIELDS",
    "MAX_LENGTH",
    "Expr",
    "Predicate",
    "QueryError",
    "Subject",
    "compile_predicate",
    "parse",
    "parse_cached",
]
