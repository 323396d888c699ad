"""Console login lockout: per account and per client address, counted in the database so two
API servers share the counts, refused with the wrong-password text (429 + Retry-After),
cleared by a successful login, audited, and ended after the lockout period."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from muster.auth.lockout import LockoutPolicy
from muster.auth.login_throttle import LoginPolicies
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.models.enums import Role
from muster.web.sessions import LOGIN_FAILED, Login, Refused, attempt_login
from tests.api.apicalls import global_headers
from tests.factories import TenantKeys
from tests.security.conftest import STRICT_ACCOUNT, STRICT_ADDRESS, client_at, own_address
from tests.web.conftest import add_member, login

MESSAGE = re.compile(r'role="alert"[^>]*>([^<]+)<')


def attempt(base_url: str, address: str, email: str, password: str) -> httpx.Response:
    """One login through the form, from `address`, in a fresh browser."""
    with client_at(base_url, address) as http:
        return login(http, email, password)


def message(resp: httpx.Response) -> str:
    found = MESSAGE.search(resp.text)
    assert found is not None, resp.text
    return found.group(1).strip()


def lockouts(client: httpx.Client, global_key: str, **params: str) -> list[dict[str, Any]]:
    """The global log's `login.locked` events (newest first)."""
    resp = client.get(
        "/api/v1/audit",
        params={"action": "login.locked", "limit": "100", **params},
        headers=global_headers(global_key),
    )
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


class TestAccountLockout:
    def test_failures_on_two_servers_lock_the_account_and_reveal_nothing(
        self,
        strict_servers: tuple[str, str],
        db: Database,
        tenant: TenantKeys,
        client: httpx.Client,
        global_key: str,
    ) -> None:
        email, password = add_member(db, tenant.id)
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
        seen: dict[str, list[httpx.Response]] = {}
        for account, last_password in ((email, password), (unknown, password)):
            address = own_address()
            seen[account] = [
                attempt(strict_servers[n % 2], address, account, "wrong-password")
                for n in range(STRICT_ACCOUNT)
            ] + [attempt(strict_servers[0], address, account, last_password)]
        answers = seen[email]
        assert [a.status_code for a in answers] == [401] * (STRICT_ACCOUNT - 1) + [429, 429]
        assert {message(a) for a in answers} == {LOGIN_FAILED}
        assert 14 * 60 < int(answers[-1].headers["retry-after"]) <= 15 * 60
        assert "muster_session" not in answers[-1].headers.get("set-cookie", "")

        def shape(resp: httpx.Response) -> tuple[int, str, bool]:
            return resp.status_code, message(resp), "retry-after" in resp.headers

        assert [shape(a) for a in seen[unknown]] == [shape(a) for a in answers]

        members = client.get("/api/v1/users", headers=tenant.headers(Role.TENANT_ADMIN)).json()
        subject = next(u["id"] for u in members if u["email"] == email)
        (event,) = lockouts(client, global_key, subjectId=subject)
        assert event["subjectType"] == "user" and event["actorType"] == "system"
        assert event["changes"]["scope"] == "account"
        assert event["changes"]["account"] == email

    def test_a_successful_login_clears_the_count(
        self, strict_servers: tuple[str, str], db: Database, tenant: TenantKeys
    ) -> None:
        email, password = add_member(db, tenant.id)
        address = own_address()
        fails = [attempt(strict_servers[0], address, email, "wrong-password")]
        fails.append(attempt(strict_servers[0], address, email, password))
        fails.append(attempt(strict_servers[1], address, email, "wrong-password"))
        assert [a.status_code for a in fails] == [401, 303, 401]  # not 429: counting restarted


class TestAddressLockout:
    def test_failures_from_one_address_lock_it_for_every_account(
        self,
        strict_servers: tuple[str, str],
        db: Database,
        tenant: TenantKeys,
        client: httpx.Client,
        global_key: str,
    ) -> None:
        email, password = add_member(db, tenant.id)
        sprayer = own_address()
        answers = [
            attempt(strict_servers[n % 2], sprayer, f"spray-{uuid.uuid4().hex[:8]}@x.test", "pw")
            for n in range(STRICT_ADDRESS)
        ]
        assert [a.status_code for a in answers] == [401] * (STRICT_ADDRESS - 1) + [429]
        assert attempt(strict_servers[0], sprayer, email, password).status_code == 429
        assert attempt(strict_servers[0], own_address(), email, password).status_code == 303
        events = [e for e in lockouts(client, global_key, subjectType="address")]
        mine = [e for e in events if e["changes"]["address"] == sprayer]
        assert len(mine) == 1 and mine[0]["subjectId"] is None
        assert mine[0]["changes"]["scope"] == "address"


class TestLockoutEnds:
    """The service over explicit times: a lockout lasts its period, then logins work again,
    and attempts made while locked neither count nor extend it."""

    POLICIES = LoginPolicies(
        LockoutPolicy(2, timedelta(minutes=10), timedelta(minutes=5)),
        LockoutPolicy(0, timedelta(minutes=10), timedelta(minutes=5)),
    )

    def run(self, db: Database, email: str, password: str, now: datetime) -> Login | Refused:
        with unit_of_work(db, SystemContext(), write=True) as session:
            return attempt_login(
                session,
                email,
                password,
                now,
                timedelta(hours=1),
                address=None,
                policies=self.POLICIES,
            )

    def test_the_lockout_lasts_its_period(self, db: Database, tenant: TenantKeys) -> None:
        email, password = add_member(db, tenant.id)
        t0 = datetime.now(UTC)
        assert self.run(db, email, "wrong", t0) == Refused(None)
        assert self.run(db, email.upper(), "wrong", t0 + timedelta(seconds=1)) == Refused(300)
        while_locked = self.run(db, email, password, t0 + timedelta(minutes=4))
        assert while_locked == Refused(61)
        after = self.run(db, email, password, t0 + timedelta(minutes=5, seconds=2))
        assert isinstance(after, Login)
