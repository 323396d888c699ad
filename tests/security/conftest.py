"""Fixtures of the security tests: servers with a strict lockout and CORS, clients that call
from an address of their own, and logins over real HTTP.

Every lockout test calls from a loopback address of its own (127.x.y.z), so the failures it
counts against its address neither reach nor come from any other test (the shared server's
clients all call from 127.0.0.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from muster.config import Settings
from tests.conftest import serve

STRICT_ACCOUNT = 2  # failures of one account that lock it
STRICT_ADDRESS = 3  # failures from one address that lock it
ALLOWED_ORIGIN = "https://soc.example"


@pytest.fixture(scope="session")
def strict_settings(settings: Settings) -> Settings:
    """The test database's settings with a strict lockout, one CORS origin and a small body
    limit."""
    return settings.model_copy(
        update={
            "login_max_failures": STRICT_ACCOUNT,
            "login_max_failures_per_address": STRICT_ADDRESS,
            "login_failure_window_minutes": 15,
            "login_lockout_minutes": 15,
            "cors_origins": [ALLOWED_ORIGIN],
            "max_body_bytes": 1024,
            "embedded_worker": False,
        }
    )


@pytest.fixture(scope="session")
def strict_servers(strict_settings: Settings) -> Iterator[tuple[str, str]]:
    """Two API servers (two apps, each with its own engine and caches) sharing the test
    database, as two API processes would."""
    with serve(strict_settings) as one, serve(strict_settings) as two:
        yield one, two


def own_address() -> str:
    """A loopback address no other test calls from."""
    a, b, c = secrets.token_bytes(3)
    return f"127.{a}.{b}.{2 + c % 250}"


def client_at(base_url: str, address: str) -> httpx.Client:
    """A client whose requests come from `address` (redirects not followed)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=30)
