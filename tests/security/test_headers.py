"""Security headers on every response of every API and the console, and CORS: off unless
origins are configured, then exactly those. Over real HTTP against the test servers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from muster.api.security_headers import (
    API_CSP,
    CONSOLE_CSP,
    DOCS_CSP,
    HSTS,
    security_headers,
)
from muster.config import Settings
from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys, make_tenant
from tests.security.conftest import ALLOWED_ORIGIN
from tests.web.conftest import add_member, login

BASELINE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
SENTINEL = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w"
    "/providers/Microsoft.SecurityInsights/incidents?api-version=2023-02-01"
)
Call = Callable[[httpx.Client, TenantKeys], httpx.Response]


@pytest.fixture(scope="module")
def shared_tenant(db: Database) -> TenantKeys:
    """One tenant for the read-only calls of this module."""
    return make_tenant(db)


# (name, call, expected CSP, expected no-store): one response of each kind the service writes
RESPONSES: list[tuple[str, Call, str, bool]] = [
    ("health", lambda c, t: c.get("/health"), API_CSP, True),
    ("openapi", lambda c, t: c.get("/openapi.json"), API_CSP, True),
    ("api docs page", lambda c, t: c.get("/docs"), DOCS_CSP, True),
    (
        "authenticated list",
        lambda c, t: c.get("/api/v1/incidents", headers=t.headers()),
        API_CSP,
        True,
    ),
    ("401 problem", lambda c, t: c.get("/api/v1/incidents"), API_CSP, True),
    (
        "404 problem",
        lambda c, t: c.get(f"/api/v1/incidents/{uuid.uuid4()}", headers=t.headers()),
        API_CSP,
        True,
    ),
    ("contraforce beta", lambda c, t: c.get("/api/beta/partners"), API_CSP, True),
    (
        "contraforce v2 error",
        lambda c, t: c.get(f"/api/v2/workspaces/{t.id}/incidents/a/b/evidence"),
        API_CSP,
        True,
    ),
    ("sentinel error", lambda c, t: c.get(SENTINEL), API_CSP, True),
    ("console login page", lambda c, t: c.get("/ui/login"), CONSOLE_CSP, True),
    ("console redirect", lambda c, t: c.get("/ui/queue"), CONSOLE_CSP, True),
    ("console static file", lambda c, t: c.get("/ui/static/app.css"), CONSOLE_CSP, False),
]


@pytest.mark.parametrize(
    ("name", "call", "csp", "no_store"), RESPONSES, ids=[r[0] for r in RESPONSES]
)
def test_every_kind_of_response_carries_the_headers(
    client: httpx.Client, shared_tenant: TenantKeys, name: str, call: Call, csp: str, no_store: bool
) -> None:
    resp = call(client, shared_tenant)
    assert resp.status_code < 500, (name, resp.status_code, resp.text)
    for header, value in BASELINE.items():
        assert resp.headers.get(header) == value, (name, header, resp.headers)
    assert resp.headers.get("content-security-policy") == csp, name
    assert (resp.headers.get("cache-control") == "no-store") is no_store, (name, resp.headers)
    assert "strict-transport-security" not in resp.headers, "plain http gets no HSTS"


def test_a_body_refused_before_routing_carries_them(
    strict_servers: tuple[str, str], tenant: TenantKeys
) -> None:
    with httpx.Client(base_url=strict_servers[0], timeout=30) as http:
        resp = http.post(
            "/api/v1/alerts", content=b"[" + b" " * 4096 + b"]", headers=tenant.headers()
        )
    assert resp.status_code == 413, resp.text
    for header, value in BASELINE.items():
        assert resp.headers.get(header) == value, header
    assert resp.headers["content-security-policy"] == API_CSP
    assert resp.headers["cache-control"] == "no-store"


def test_a_logged_in_console_page_is_not_cached(
    client: httpx.Client, db: Database, tenant: TenantKeys
) -> None:
    email, password = add_member(db, tenant.id, Role.ANALYST)
    assert login(client, email, password).status_code == 303
    page = client.get("/ui/queue")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == CONSOLE_CSP


def test_hsts_when_the_request_came_over_https(client: httpx.Client, tenant: TenantKeys) -> None:
    """Behind a TLS proxy (uvicorn trusts X-Forwarded-Proto from loopback) the scheme is https."""
    for path in ("/api/v1/incidents", "/ui/login"):
        resp = client.get(path, headers={**tenant.headers(), "X-Forwarded-Proto": "https"})
        assert resp.headers.get("strict-transport-security") == HSTS, path


class TestSecurityHeadersFunction:
    def test_https_public_url_adds_hsts(self) -> None:
        found = security_headers(
            "/api/v1/x", "application/json", https=True, console_prefix="/ui", cached_prefixes=()
        )
        assert found["Strict-Transport-Security"] == HSTS

    def test_the_console_prefix_is_matched_on_a_segment(self) -> None:
        found = security_headers(
            "/uix", "text/html", https=False, console_prefix="/ui", cached_prefixes=()
        )
        assert found["Content-Security-Policy"] == DOCS_CSP

    def test_an_https_public_url_counts_as_https(self) -> None:
        from muster.api.security_headers import served_over_https

        assert served_over_https("http", "https://muster.example")
        assert not served_over_https("http", "http://muster.example")


class TestCors:
    PREFLIGHT = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }

    def test_off_by_default(self, client: httpx.Client, tenant: TenantKeys) -> None:
        origin = {"Origin": ALLOWED_ORIGIN}
        simple = client.get("/api/v1/incidents", headers={**tenant.headers(), **origin})
        preflight = client.options("/api/v1/incidents", headers={**origin, **self.PREFLIGHT})
        for resp in (simple, preflight):
            assert not [h for h in resp.headers if h.startswith("access-control-")], resp.headers

    def test_exactly_the_configured_origins(
        self, strict_servers: tuple[str, str], tenant: TenantKeys
    ) -> None:
        with httpx.Client(base_url=strict_servers[0], timeout=30) as http:
            allowed = http.options(
                "/api/v1/incidents", headers={"Origin": ALLOWED_ORIGIN, **self.PREFLIGHT}
            )
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
            assert "GET" in allowed.headers["access-control-allow-methods"]
            other = http.options(
                "/api/v1/incidents", headers={"Origin": "https://evil.example", **self.PREFLIGHT}
            )
            assert other.status_code == 400
            assert "access-control-allow-origin" not in other.headers
            simple = http.get(
                "/api/v1/incidents", headers={**tenant.headers(), "Origin": ALLOWED_ORIGIN}
            )
            assert simple.status_code == 200
            assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
            assert "access-control-allow-credentials" not in simple.headers
            assert simple.headers["cache-control"] == "no-store"  # still secured
            stranger = http.get(
                "/api/v1/incidents", headers={**tenant.headers(), "Origin": "https://evil.example"}
            )
            assert "access-control-allow-origin" not in stranger.headers

    @pytest.mark.parametrize("origin", ["*", "https://soc.example/", "soc.example", "null"])
    def test_only_bare_origins_are_accepted(self, origin: str) -> None:
        with pytest.raises(ValueError, match="is not an origin"):
            Settings(cors_origins=[origin])

    def test_the_environment_lists_origins_by_comma(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MUSTER_CORS_ORIGINS", "https://a.example, http://localhost:3000")
        assert Settings().cors_origins == ["https://a.example", "http://localhost:3000"]
