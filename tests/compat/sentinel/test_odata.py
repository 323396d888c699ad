"""OData `$filter` / `$orderby` -> muster's filter language and sort (pure).

Each translated filter is evaluated by muster's own Python back end over plain incidents, so
the tests check meaning (which incidents a Sentinel filter selects), not the generated text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from muster.compat.sentinel.odata import filter_expression, native_sort
from muster.errors import InvalidInput
from muster.query import Subject, compile_predicate, parse

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def incident(name: str, **fields: Any) -> dict[str, Any]:
    """An incident mapping in muster API names; `name` is kept in `details` for lookups."""
    base: dict[str, Any] = {
        "number": 1,
        "description": "Suspicious PowerShell",
        "details": name,
        "severity": 3,
        "status": "OPEN",
        "resolution": None,
        "assignee": None,
        "assigneeName": None,
        "createdAt": datetime(2026, 11, 1, tzinfo=UTC),
        "updatedAt": datetime(2026, 11, 2, tzinfo=UTC),
        "tags": [],
    }
    base.update(fields)
    return base


INCIDENTS = [
    incident("new-high", severity=4, number=10),
    incident(
        "active-low",
        severity=2,
        status="UNDER_INVESTIGATION",
        number=11,
        assignee="ana@corp.example",
        assigneeName="Ana Lyst",
        description="Impossible travel for O'Brien",
    ),
    incident(
        "closed-tp",
        severity=3,
        status="RESOLVED",
        resolution="TRUE_POSITIVE",
        number=12,
        createdAt=datetime(2026, 11, 20, tzinfo=UTC),
    ),
    incident("closed-dup", severity=1, status="RESOLVED", resolution="DUPLICATE", number=13),
    incident(
        "soar", severity=4, number=14, assignee="SOAR", assigneeName="SOAR", description="a.b c"
    ),
]


def selected(odata: str) -> set[str]:
    """The names of the sample incidents an OData filter selects."""
    predicate = compile_predicate(parse(filter_expression(odata)), Subject.INCIDENT, NOW)
    return {i["details"] for i in INCIDENTS if predicate(i)}


@pytest.mark.parametrize(
    ("odata", "expected"),
    [
        ("properties/status eq 'New'", {"new-high", "soar"}),
        ("properties/status eq 'active'", {"active-low"}),
        ("properties/status ne 'Closed'", {"new-high", "active-low", "soar"}),
        ("properties/status in ('New', 'Active')", {"new-high", "active-low", "soar"}),
        ("properties/severity eq 'High'", {"new-high", "soar"}),
        ("properties/severity ge 'Medium'", {"new-high", "closed-tp", "soar"}),
        ("properties/severity lt 'Medium'", {"active-low", "closed-dup"}),
        ("properties/classification eq 'TruePositive'", {"closed-tp"}),
        ("properties/classification eq 'Undetermined'", {"closed-dup"}),  # DUPLICATE reads so
        ("properties/classification eq null", {"new-high", "active-low", "soar"}),
        (
            "properties/classification ne 'TruePositive'",  # OData: null ne x is true
            {"new-high", "active-low", "closed-dup", "soar"},
        ),
        ("properties/incidentNumber gt 12", {"closed-dup", "soar"}),
        ("properties/incidentNumber eq 11", {"active-low"}),
        ("properties/createdTimeUtc ge 2026-11-10T00:00:00Z", {"closed-tp"}),
        ("properties/createdTimeUtc ge '2026-11-10T00:00:00.0000000Z'", {"closed-tp"}),
        (
            "properties/createdTimeUtc lt 2026-11-10",
            {"new-high", "active-low", "closed-dup", "soar"},
        ),
        (
            "properties/lastModifiedTimeUtc gt 2026-11-01T12:00:00+00:00",
            {i["details"] for i in INCIDENTS},
        ),
        ("contains(properties/title, 'travel')", {"active-low"}),
        ("contains(properties/title, 'TRAVEL')", {"active-low"}),  # case-insensitive
        ("contains(properties/title, 'O''Brien')", {"active-low"}),
        ("startswith(properties/title, 'a.b')", {"soar"}),
        ("startswith(properties/title, 'aXb')", set()),  # the dot is literal
        ("endswith(properties/title, 'PowerShell')", {"new-high", "closed-tp", "closed-dup"}),
        ("properties/title eq 'a.b c'", {"soar"}),
        ("properties/owner/email eq 'ANA@corp.example'", {"active-low"}),
        ("properties/owner/userPrincipalName eq 'ana@corp.example'", {"active-low"}),
        ("properties/owner/assignedTo eq 'SOAR'", {"soar"}),
        ("properties/owner/email eq null", {"new-high", "closed-tp", "closed-dup"}),
        ("properties/owner/email ne null", {"active-low", "soar"}),
        (
            "properties/severity eq 'High' and properties/status eq 'New'",
            {"new-high", "soar"},
        ),
        (
            "properties/severity eq 'Low' or properties/classification eq 'TruePositive'",
            {"active-low", "closed-tp"},
        ),
        (
            "not (properties/status eq 'Closed') and (properties/severity eq 'High' "
            "or contains(properties/title, 'travel'))",
            {"new-high", "active-low", "soar"},
        ),
        ("NOT properties/status EQ 'New' AND properties/severity GT 'Low'", {"closed-tp"}),
    ],
)
def test_filters_select_what_sentinel_means(odata: str, expected: set[str]) -> None:
    assert selected(odata) == expected


@pytest.mark.parametrize(
    ("odata", "named"),
    [
        ("", "empty"),
        ("properties/status eq", "the end"),
        ("properties/status eq 'New' andalso x", "'andalso"),
        ("(properties/status eq 'New'", "')'"),
        ("properties/status = 'New'", "operator"),
        ("properties/providerName eq 'x'", "properties/providerName"),
        ("properties/status gt 'New'", "gt"),
        ("properties/status eq 'Resolved'", "'Resolved'"),
        ("properties/severity eq 'Critical'", "'Critical'"),
        ("properties/severity eq 4", "quoted string"),
        ("properties/classification eq 'Duplicate'", "'Duplicate'"),
        ("properties/incidentNumber eq '5'", "whole number"),
        ("properties/createdTimeUtc ge 'yesterday'", "'yesterday'"),
        ("properties/createdTimeUtc ge 5", "date-time"),
        ("properties/severity gt null", "null"),
        ("tolower(properties/title) eq 'x'", "column 25"),
        ("substringof(properties/title, 'x')", "substringof"),
        ("contains(properties/status, 'Ne')", "text property"),
        ("contains(properties/title, 5)", "quoted string"),
        ("properties/status in ('New', null)", "null"),
        ("x" * 4001, "4000"),
    ],
)
def test_unsupported_filters_are_refused_naming_the_problem(odata: str, named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        filter_expression(odata)
    assert caught.value.errors[0]["field"] == "$filter"
    assert named in caught.value.detail


def test_translation_never_reaches_beyond_the_incident_fields() -> None:
    # a quote or a backslash in a value stays inside the muster string literal
    text = filter_expression("properties/title eq 'x\" or severity = 1 or \\'")
    tree = parse(text)
    predicate = compile_predicate(tree, Subject.INCIDENT, NOW)
    assert not any(predicate(i) for i in INCIDENTS)
    assert predicate(incident("odd", description='x" or severity = 1 or \\'))


@pytest.mark.parametrize(
    ("orderby", "sort"),
    [
        (None, "-createdAt"),
        ("  ", "-createdAt"),
        ("properties/createdTimeUtc desc", "-createdAt"),
        ("properties/createdTimeUtc", "+createdAt"),  # OData's default direction: ascending
        ("properties/lastModifiedTimeUtc asc", "+updatedAt"),
        ("properties/severity DESC", "-severity"),
        ("properties/incidentNumber asc", "+number"),
    ],
)
def test_orderby_becomes_the_native_sort(orderby: str | None, sort: str) -> None:
    assert native_sort(orderby) == sort


@pytest.mark.parametrize(
    ("orderby", "named"),
    [
        ("properties/title asc", "properties/title"),
        ("properties/severity desc, properties/incidentNumber asc", "one property"),
        ("properties/severity sideways", "unexpected"),
    ],
)
def test_unsupported_orderby_is_refused(orderby: str, named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        native_sort(orderby)
    assert caught.value.errors[0]["field"] == "$orderby"
    assert named in caught.value.detail
