"""`muster bootstrap`, `tenant`, `user` and `apikey` commands against the real database."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import httpx
import pytest
from typer.testing import CliRunner

from muster.cli.main import app
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, create_db_engine, unit_of_work
from muster.errors import DomainError
from muster.web.sessions import login

runner = CliRunner()


@pytest.fixture()
def env(settings: Settings) -> dict[str, str]:
    return {"MUSTER_DATABASE_URL": settings.database_url}


def _json(result: object) -> dict:  # type: ignore[type-arg]
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_tenant_and_key_commands_chain(env: dict[str, str], client: httpx.Client) -> None:
    tenant = _json(
        runner.invoke(app, ["tenant", "create", "cli-chain-" + _suffix(), "--json"], env=env)
    )
    key = _json(
        runner.invoke(
            app,
            ["apikey", "create", "--tenant", tenant["id"], "--role", "analyst", "--json"],
            env=env,
        )
    )
    assert key["tenantId"] == tenant["id"] and key["role"] == "analyst"
    answer = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {key['key']}"})
    assert answer.status_code == 200
    listed = _json(
        runner.invoke(app, ["apikey", "list", "--tenant", tenant["id"], "--json"], env=env)
    )
    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0], "a listed key must never show its secret"


def test_suspend_and_resume(env: dict[str, str], client: httpx.Client, settings: Settings) -> None:
    tenant = _json(
        runner.invoke(app, ["tenant", "create", "cli-susp-" + _suffix(), "--json"], env=env)
    )
    key = _json(
        runner.invoke(app, ["apikey", "create", "--tenant", tenant["id"], "--json"], env=env)
    )["key"]
    auth = {"Authorization": f"Bearer {key}"}
    suspended = _json(
        runner.invoke(app, ["tenant", "suspend", tenant["id"], "unpaid", "--json"], env=env)
    )
    assert suspended["flags"]["suspended"] == "unpaid"
    # the CLI is another writer: the server notices within its key cache's lifetime
    wait = settings.auth_cache_seconds + 2
    refused = _eventually(client, auth, 403, wait)
    assert refused.status_code == 403 and "unpaid" in refused.json()["detail"]
    _json(runner.invoke(app, ["tenant", "resume", tenant["id"], "--json"], env=env))
    assert _eventually(client, auth, 200, wait).status_code == 200


def _eventually(
    client: httpx.Client, auth: dict[str, str], status: int, seconds: float
) -> httpx.Response:
    deadline = time.monotonic() + seconds
    answer = client.get("/api/v1/incidents", headers=auth)
    while answer.status_code != status and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = client.get("/api/v1/incidents", headers=auth)
    return answer


def test_user_create_adds_member(env: dict[str, str], client: httpx.Client) -> None:
    tenant = _json(
        runner.invoke(app, ["tenant", "create", "cli-user-" + _suffix(), "--json"], env=env)
    )
    email = f"soc-{_suffix()}@corp.local"
    user = _json(
        runner.invoke(
            app,
            [
                "user",
                "create",
                email,
                "Sam Soc",
                "--tenant",
                tenant["id"],
                "--role",
                "tenant_admin",
                "--json",
            ],
            env=env,
        )
    )
    assert user["email"] == email and user["role"] == "tenant_admin"
    admin = _json(
        runner.invoke(
            app,
            ["apikey", "create", "--tenant", tenant["id"], "--role", "tenant_admin", "--json"],
            env=env,
        )
    )["key"]
    members = client.get("/api/v1/users", headers={"Authorization": f"Bearer {admin}"}).json()
    assert [m["email"] for m in members] == [email]


def test_apikey_needs_exactly_one_scope(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["apikey", "create", "--json"], env=env)
    assert result.exit_code != 0
    assert "--tenant" in result.output


def test_bootstrap_prints_keys_once_then_skips(tmp_path: object) -> None:
    env = {"MUSTER_DATABASE_URL": f"sqlite:///{tmp_path}/boot.db"}  # an empty database
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    first = runner.invoke(app, ["bootstrap"], env=env)
    assert first.exit_code == 0, first.output
    keys = re.findall(r"mst_[0-9a-f]{10}_[A-Za-z0-9_-]+", first.output)
    assert len(keys) == 2, first.output
    second = runner.invoke(app, ["bootstrap"], env=env)
    assert second.exit_code == 0
    assert "skipped" in second.output and "mst_" not in second.output


def test_bootstrap_prints_a_password_that_logs_in_to_the_console(tmp_path: object) -> None:
    env = {"MUSTER_DATABASE_URL": f"sqlite:///{tmp_path}/boot.db"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    first = runner.invoke(app, ["bootstrap", "--email", "boss@example.test"], env=env)
    assert first.exit_code == 0, first.output
    (password,) = re.findall(r"password  ([A-Za-z0-9_-]{16})\b", first.output)
    db = create_db_engine(Settings(database_url=env["MUSTER_DATABASE_URL"]))
    try:
        now = SystemClock().now()
        with unit_of_work(db, SystemContext(), write=True) as session:
            assert login(session, "boss@example.test", password, now, timedelta(hours=1))
            with pytest.raises(DomainError):
                login(session, "boss@example.test", password + "x", now, timedelta(hours=1))
    finally:
        db.dispose()


def _suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:8]
