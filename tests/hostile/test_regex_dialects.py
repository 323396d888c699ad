"""A pattern the `regex` module reads but PostgreSQL's engine refuses is a 400 `query.bad_regex`
on PostgreSQL (on SQLite it runs, through the `regex` module), never a server error."""

from __future__ import annotations

import httpx
import pytest

from tests.api.apicalls import assert_problem
from tests.factories import TenantKeys

# valid for the `regex` module, refused by PostgreSQL (a Unicode property, a named group)
PATTERNS = ["\\\\p{L}+", "(?<name>ws)-1"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_postgresql_cannot_read_is_bad_input(
    client: httpx.Client, tenant: TenantKeys, backend: str, pattern: str
) -> None:
    for path, text in (
        ("/api/v1/alerts", f'hostname matches "{pattern}"'),
        ("/api/v1/incidents", f'alerts.hostname matches "{pattern}"'),
    ):
        resp = client.get(path, params={"filter": text}, headers=tenant.headers())
        if backend == "sqlite":
            assert resp.status_code == 200, resp.text
        else:
            problem = assert_problem(resp, 400, "query.bad_regex", field="filter")
            assert "PostgreSQL" in problem["detail"]
