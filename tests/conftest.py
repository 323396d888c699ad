"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each xdist worker gets its own SQLite file and its own PostgreSQL schema, migrated once with
`alembic upgrade head`. Tests never assume an empty database: each creates its own tenant
(`tenant` fixture), which tenancy keeps apart from every other test's data.
The API is served by a real uvicorn server on a loopback port and called with httpx.
Mail that servers and workers send goes to a real SMTP server on loopback (`mail_sink`).
"""

from __future__ import annotations

import email
import email.policy
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
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


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a database nobody has touched (a new file, or a new PostgreSQL schema), for
    tests that run `muster` processes of their own against it."""
    if request.param == "postgresql" and not _pg_reachable():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (MUSTER_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable: PostgreSQL run SKIPPED")
    name = f"own_{uuid.uuid4().hex[:12]}"
    with fresh_database_url(str(request.param), name, tmp_path_factory) as url:
        yield url


class MailSink:
    """A real SMTP server on loopback that keeps every message it is sent, for the whole
    session: the shared test server's settings point at it, so the notification mail of
    every test lands here (tests pick theirs out by recipient)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(([a.lower() for a in envelope.rcpt_tos], message))
        return "250 OK"

    def messages(self, to: str) -> list[EmailMessage]:
        """Every message delivered to `to` so far, oldest first."""
        with self.lock:
            return [message for rcpt, message in self.received if to.lower() in rcpt]

    def wait(
        self,
        to: str,
        done: Callable[[list[EmailMessage]], bool] = bool,
        timeout: float = 20.0,
    ) -> list[EmailMessage]:
        """Poll until `done(messages(to))` (default: any); fail the test on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if done(found):
                return found
            time.sleep(0.05)
        subjects: list[Any] = [m["Subject"] for m in self.messages(to)]
        pytest.fail(f"mail to {to} not as expected in {timeout}s; got subjects {subjects}")


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    """The session's SMTP server (aiosmtpd on a free loopback port)."""
    sink = MailSink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, server_hostname="sink")
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, mail_sink: MailSink
) -> Iterator[Settings]:
    """Settings pointing at this worker's fresh, migrated database (and mail at `mail_sink`)."""
    name = f"test_{os.getpid()}_{_worker()}"
    with fresh_database_url(backend, name, tmp_path_factory) as url:
        # a short key cache: changes made outside the API (the CLI) show within a second;
        # the server under test shares the pytest process: leave its garbage collector alone;
        # webhook receivers in tests listen on loopback, and retries, SLA scans and the
        # console's queue refresh are quick;
        # notification mail goes to the session's SMTP sink
        settings = Settings(
            database_url=url,
            database_pool_size=5,
            auth_cache_seconds=1.0,
            gc_young_collection_every=0,
            webhook_allow_private_targets=True,
            webhook_retry_base_seconds=0.2,
            sla_scan_seconds=0.25,
            ui_refresh_seconds=1.0,  # the console's queue polls quickly (browser tests)
            smtp_host="127.0.0.1",
            smtp_port=mail_sink.port,
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
