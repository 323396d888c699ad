"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each xdist worker gets its own SQLite file and its own PostgreSQL schema, migrated once with
`alembic upgrade head`. Tests never assume an empty database: each creates its own tenant
(`tenant` fixture), which tenancy keeps apart from every other test's data.
The API is served by a real uvicorn server on a loopback port and called with httpx.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from muster.api import create_app
from muster.config import Settings
from muster.db.engine import Database, create_db_engine
from muster.db.migrate import upgrade
from tests.factories import TenantKeys, make_global_key, make_tenant

PG_SERVER = os.environ.get("MUSTER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("MUSTER_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    if request.param == "postgresql" and not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable: PostgreSQL tests SKIPPED")
    return str(request.param)


@contextmanager
def fresh_database_url(
    backend: str, name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a PostgreSQL schema that is
    dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / f'{name}.db'}"
        return
    schema = f"muster_{name}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def settings(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at this worker's fresh, migrated database."""
    name = f"test_{os.getpid()}_{_worker()}"
    with fresh_database_url(backend, name, tmp_path_factory) as url:
        # a short key cache: changes made outside the API (the CLI) show within a second;
        # the server under test shares the pytest process: leave its garbage collector alone;
        # webhook receivers in tests listen on loopback, and retries and SLA scans are quick
        settings = Settings(
            database_url=url,
            database_pool_size=5,
            auth_cache_seconds=1.0,
            gc_young_collection_every=0,
            webhook_allow_private_targets=True,
            webhook_retry_base_seconds=0.2,
            sla_scan_seconds=0.25,
        )
        upgrade(settings)
        yield settings


@pytest.fixture(scope="session")
def db(settings: Settings) -> Iterator[Database]:
    """The worker's database (engine + session factory)."""
    database = create_db_engine(settings)
    yield database
    database.dispose()


class Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # run inside a thread
        pass


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """A real uvicorn server (with its embedded worker) for `settings` on a free loopback
    port, in a thread; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def base_url(settings: Settings) -> Iterator[str]:
    """A real uvicorn server for this backend on a free loopback port."""
    with serve(settings) as url:
        yield url


@pytest.fixture()
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client for the test server (no credentials)."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture()
def tenant(db: Database) -> TenantKeys:
    """A fresh tenant with a key per role and one member user."""
    return make_tenant(db)


@pytest.fixture()
def other_tenant(db: Database) -> TenantKeys:
    """A second, unrelated tenant."""
    return make_tenant(db)


@pytest.fixture(scope="session")
def global_key(db: Database) -> str:
    """A global_admin API key."""
    return make_global_key(db)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alerts"


@pytest.fixture(scope="session")
def shared_alerts() -> Path:
    """`../shared/data/alerts`, or skip where this checkout has no ../shared beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data/alerts is absent (a clone elsewhere): real-alert tests skipped")
    return SHARED_DATA
