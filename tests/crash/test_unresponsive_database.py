"""A database that accepts the TCP connection and then never answers (a hung server, a
half-open network path) must not hang requests: opening a connection gives up after
`database_connect_timeout_seconds`, and the request answers 503 problem+json with
`Retry-After`, like any other outage."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from muster.auth.keys import mint_key
from muster.config import Settings
from tests.conftest import serve

CONNECT_TIMEOUT_S = 2


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A loopback port whose listener completes TCP handshakes and never reads or answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_a_database_that_never_answers_gets_a_503_within_the_connect_timeout(
    silent_server: int,
) -> None:
    settings = Settings(
        database_url=f"postgresql+psycopg://muster@127.0.0.1:{silent_server}/muster",
        database_connect_timeout_seconds=CONNECT_TIMEOUT_S,
        embedded_worker=False,
        gc_young_collection_every=0,  # the server shares the pytest process
    )
    with serve(settings) as base_url, httpx.Client(base_url=base_url, timeout=15) as http:
        for method, path, headers in (
            ("GET", "/health/ready", {}),
            ("POST", "/api/v1/alerts", {"Authorization": f"Bearer {mint_key().plaintext}"}),
        ):
            started = time.monotonic()
            answer = http.request(method, path, headers=headers, json={"ruleName": "r"})
            took = time.monotonic() - started
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"].isdigit()
            assert answer.json()["code"] == "database.unavailable"
            assert took < CONNECT_TIMEOUT_S + 3, f"{path} took {took:.1f}s"
        assert http.get("/health").status_code == 200  # alive all the same
