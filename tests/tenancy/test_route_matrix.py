"""Tenant isolation over HTTP, generated from the app's route tables (issue 9).

Tenant A and tenant B each get one object of every kind (`world.build_world`). As B (tenant
admin, so authorization is never what stops it), every route of every API and of the console
that names an object is called with A's ids, one slot at a time and all at once: the answer is
the API's own "not found" (a ContraForce workspace: its 403), the same answer as for an id
nobody has, and it mentions nothing of A's. Lists, metrics and exports as B hold nothing of
A's; webhooks and e-mail go only to the tenant's own receivers and people. Routes the tables
(`route_table`) do not know fail the build. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.api.apicalls import list_all, wait_for
from tests.api.webhook_receiver import Receiver, receiving
from tests.conftest import MailSink
from tests.factories import make_tenant
from tests.tenancy.matrix import Caller, app_routes, comparable, leaks, slots_of
from tests.tenancy.route_table import CASES, COLLECTIONS, FIXED, HEADER_WRITES, OTHER, Case
from tests.tenancy.world import KINDS, World, build_world, snapshot
from tests.web.conftest import add_member, login, page_token

from muster.api import create_app
from muster.config import Settings
from muster.db.engine import Database
from muster.models.enums import Role


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """An app built only to read its route tables (never connected to a database)."""
    path = tmp_path_factory.mktemp("routes") / "unused.db"
    return create_app(Settings(database_url=f"sqlite:///{path}"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The loopback webhook receiver both tenants subscribe to (on paths of their own)."""
    with receiving() as found:
        yield found


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    """A client of the test server without credentials."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def worlds(http: httpx.Client, db: Database, receiver: Receiver) -> tuple[World, World]:
    """Tenant A's world and tenant B's, built through their own APIs."""
    a = build_world(http, make_tenant(db), receiver, 1)
    b = build_world(http, make_tenant(db), receiver, 2)
    return a, b


@pytest.fixture(scope="module")
def caller(
    base_url: str, db: Database, http: httpx.Client, worlds: tuple[World, World]
) -> Iterator[Caller]:
    """Tenant B's admin: its API key, and a console session of a tenant_admin member."""
    b = worlds[1]
    email, password = add_member(db, b.tenant.id, Role.TENANT_ADMIN)
    with httpx.Client(base_url=base_url, timeout=30) as web:
        assert login(web, email, password).status_code == 303
        yield Caller(http, web, page_token(web), b)


class TestTheTables:
    def test_every_route_is_known(self, app: FastAPI) -> None:
        served = app_routes(app)
        known = set(CASES) | set(COLLECTIONS) | set(OTHER)
        assert not served - known, f"routes the isolation tables do not know: {served - known}"
        assert not known - served, f"table entries for routes that are gone: {known - served}"
        assert not set(OTHER) & (set(CASES) | set(COLLECTIONS)), "OTHER overlaps the others"

    def test_every_slot_names_a_kind_of_object_the_worlds_have(self) -> None:
        for (_, path), cases in {**CASES, **COLLECTIONS}.items():
            for case in cases:
                kinds = slots_of(path, case)  # KeyError for a parameter of no known kind
                assert set(kinds.values()) <= KINDS | set(FIXED), path
                assert set(case.vary or ()) <= set(kinds), path
                assert set(case.creates) <= set(kinds), path

    def test_an_unknown_parameter_fails(self) -> None:
        with pytest.raises(KeyError, match="frobnicator_id"):
            slots_of("/api/v1/frobs/{frobnicator_id}", Case())

    def test_every_native_write_without_ids_has_a_body(self) -> None:
        writes = {(m, p) for m, p in OTHER if m != "GET" and p.startswith("/api/v1/")}
        assert writes - set(HEADER_WRITES) == {("POST", "/api/v1/tenants")}  # global admins only
        assert set(HEADER_WRITES) <= writes

    def test_the_matrix_covers_every_api(self) -> None:
        prefixes = ("/api/v1/", "/api/beta/partners/", "/api/v2/", "/subscriptions/", "/ui/")
        for prefix in prefixes:
            assert any(path.startswith(prefix) for _, path in CASES), prefix


def test_another_tenants_ids_answer_404_and_reveal_nothing(
    http: httpx.Client, worlds: tuple[World, World], caller: Caller
) -> None:
    a, b = worlds
    before = snapshot(http, a), snapshot(http, b)
    problems = [
        problem
        for (method, path), cases in CASES.items()
        for case in cases
        for problem in caller.check(method, path, case, a)
    ]
    assert not problems, "\n".join(problems)
    assert snapshot(http, a) == before[0], "tenant A's data changed"
    assert snapshot(http, b) == before[1], "tenant B's data changed"


def test_another_tenant_named_in_the_header_is_404(
    http: httpx.Client, worlds: tuple[World, World]
) -> None:
    """A tenant key acts in its own tenant: naming another in X-Muster-Tenant reads and writes
    nothing there, on every native list and every native write without ids."""
    a, b = worlds
    before = snapshot(http, a)
    calls = [(m, p, None) for m, p in COLLECTIONS if m == "GET" and p.startswith("/api/v1/")]
    calls += [(m, p, body) for (m, p), body in HEADER_WRITES.items()]
    problems = []
    for method, path, body in calls:
        answers = []
        for tenant in (a.ids["tenant"], str(uuid.uuid4())):
            headers = {**b.admin(), "X-Muster-Tenant": tenant}
            resp = http.request(method, path, json=body, headers=headers)
            if found := leaks(resp, {"tenant": tenant}, a.secrets):
                problems.append(f"{method} {path}: reveals {found}")
            answers.append(comparable(resp, {"tenant": tenant}))
        if answers[0][0] != 404 or answers[0] != answers[1]:
            problems.append(f"{method} {path}: {answers[0]} / {answers[1]}")
    assert not problems, "\n".join(problems)
    assert snapshot(http, a) == before, "tenant A's data changed"


def test_lists_metrics_and_exports_hold_nothing_of_another_tenant(
    http: httpx.Client, worlds: tuple[World, World], caller: Caller
) -> None:
    a, b = worlds
    problems, showing_own = [], set()
    for (method, path), cases in COLLECTIONS.items():
        for case in cases:
            theirs = {slot: a.ids[kind] for slot, kind in case.slots.items()}
            values = {**caller.values(path, case, theirs), "own": b.ids["tenant"]}
            resp = caller.send(method, path, case, values)
            if resp.status_code != case.expect.get("*", 200):
                problems.append(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
            if found := leaks(resp, theirs, a.secrets):
                problems.append(f"{method} {path} {theirs}: reveals {found}")
            if not case.slots and any(s in resp.text for s in b.secrets):
                showing_own.add(path)
    assert not problems, "\n".join(problems)
    # the lists are not vacuous: B's own objects are in them
    for path in (
        "/api/v1/incidents",
        "/api/v1/alerts",
        "/api/v1/users",
        "/api/v1/webhooks",
        "/api/v1/playbooks",
        "/api/v1/soar/processes",
        "/api/v1/tenants",
        "/api/beta/partners/incidents",
        "/api/v2/incidents/across-workspaces",
        "/ui/queue",
        "/ui/alerts",
        "/ui/playbooks",
        "/ui/webhooks",
    ):
        assert path in showing_own, path


def test_metrics_count_only_the_tenants_own_incidents(
    http: httpx.Client, worlds: tuple[World, World]
) -> None:
    _, b = worlds
    resp = http.get("/api/v1/metrics/incidents", params={"groupBy": "tenant"}, headers=b.admin())
    assert resp.status_code == 200, resp.text
    groups = resp.json()["groups"]
    assert [g["key"]["tenantId"] for g in groups] == [b.ids["tenant"]]
    own = list_all(http, "/api/v1/incidents", b.admin(), limit=500)
    assert groups[0]["opened"] + groups[0]["excluded"] == len(own)
    policy = http.get("/api/v1/sla/policy", headers=b.admin()).json()
    assert policy["targets"]["HIGH"]["response"] == b.sla_response


def test_webhooks_reach_only_their_own_tenants_receiver(
    http: httpx.Client, worlds: tuple[World, World], receiver: Receiver
) -> None:
    made = {}
    for world in worlds:
        body = {"description": f"hooked {uuid.uuid4().hex[:8]}"}
        resp = http.post("/api/v1/incidents", json=body, headers=world.tenant.headers())
        assert resp.status_code == 201, resp.text
        made[world.hook_path] = resp.json()["id"]
    for path, incident_id in made.items():
        _wait_for_delivery(receiver, path, incident_id)
    a, b = worlds
    for mine, other in ((a, b), (b, a)):
        received = receiver.at(mine.hook_path)
        assert received
        for request in received:
            text = request.body.decode()
            assert not [s for s in other.secrets if s in text], text[:300]
            assert mine.ids["tenant"] in text or request.json()["type"] == "ping"


def _wait_for_delivery(receiver: Receiver, path: str, incident_id: str) -> None:
    """Wait until `path` received an event of the incident."""

    def count() -> dict[str, Any]:
        return {"n": sum(incident_id.encode() in r.body for r in receiver.at(path))}

    wait_for(count, lambda got: got["n"] > 0)


def _mail_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    content = body.get_content() if body is not None else ""
    return f"{message['Subject']}\n{message['To']}\n{content}"


def test_mail_reaches_only_the_tenants_own_people(
    http: httpx.Client, db: Database, worlds: tuple[World, World], mail_sink: MailSink
) -> None:
    a, b = worlds
    shared, _ = add_member(db, a.tenant.id)  # one login, a member of both tenants
    add_member(db, b.tenant.id, email=shared)
    for world in worlds:
        path = f"/api/v1/incidents/{world.ids['incident2']}"
        resp = http.patch(path, json={"assignee": shared}, headers=world.tenant.headers())
        assert resp.status_code == 200, resp.text
    for world in worlds:  # the question of the run, to the team; the assignments, to `shared`
        mail_sink.wait(world.tenant.member_email, partial(_mentions, text=world.ids["hash"]))
        mail_sink.wait(shared, partial(_mentions, text=world.ids["hash2"]))
    members = {
        world.ids["tenant"]: {
            u["email"] for u in http.get("/api/v1/users", headers=world.admin()).json()
        }
        for world in worlds
    }
    with mail_sink.lock:
        received = list(mail_sink.received)
    for mine, other in ((a, b), (b, a)):
        marks = (mine.ids["hash"], mine.ids["hash2"], mine.ids["tag"])
        about = [(to, m) for to, m in received if any(s in _mail_text(m) for s in marks)]
        assert about
        for to, message in about:
            assert set(to) <= members[mine.ids["tenant"]], (to, message["Subject"])
            assert not [s for s in other.secrets if s in _mail_text(message)], message["Subject"]
    for mine, other in ((a, b), (b, a)):
        for message in mail_sink.messages(mine.tenant.member_email):
            assert not [s for s in other.secrets if s in _mail_text(message)], message["Subject"]


def _mentions(messages: list[EmailMessage], text: str) -> bool:
    return any(text in _mail_text(m) for m in messages)


def test_a_shared_login_stays_its_own(
    http: httpx.Client, base_url: str, db: Database, worlds: tuple[World, World]
) -> None:
    """B's admin can add A's member to B (users are global) but learns nothing of A and cannot
    take the login over: its password, name and e-mail settings stay A's and the user's."""
    a, b = worlds
    email, password = add_member(db, a.tenant.id)
    as_a = http.get("/api/v1/users", headers=a.admin()).json()
    (user,) = [u for u in as_a if u["email"] == email]
    body = {"email": email, "name": "Mallory", "password": "p" * 16}
    added = http.post("/api/v1/users", json=body, headers=b.admin())
    assert added.status_code == 201, added.text
    assert not [s for s in a.secrets if s in added.text]
    path = f"/api/v1/users/{user['id']}"
    for change in ({"password": "q" * 16}, {"name": "Mallory"}, {"active": False}):
        resp = http.patch(path, json=change, headers=b.admin())
        assert resp.status_code == 403, resp.text
        assert resp.json()["code"] == "user.shared_login"
    resp = http.put(f"{path}/notifications", json={"emailOptOut": ["all"]}, headers=b.admin())
    assert resp.status_code == 403 and resp.json()["code"] == "user.shared_login", resp.text
    role = http.patch(path, json={"role": "viewer"}, headers=b.admin())  # B's own membership
    assert role.status_code == 200 and role.json()["role"] == "viewer", role.text
    after = http.get(path, headers=a.admin()).json()
    assert after == user
    with httpx.Client(base_url=base_url, timeout=30) as web:
        assert login(web, email, password).status_code == 303
    removed = http.delete(path, headers=b.admin())
    assert removed.status_code == 204
    assert http.get(path, headers=a.admin()).json() == user
