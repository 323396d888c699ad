"""The playbook pages over real HTTP: the list, the YAML editor saving through the playbook
service, validation problems shown with nothing saved, run history, roles and tenancy."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from muster.db.engine import Database
from muster.models.enums import Role
from tests.factories import TenantKeys
from tests.web.conftest import logged_in, page_token


def definition(name: str, weight: int = 5) -> str:
    return (
        f"name: {name}\ntrigger: incident\nenabled: false\nweight: {weight}\n"
        "criteria: severity >= 4\nsteps:\n- id: done\n  kind: end\n"
    )


@pytest.fixture()
def admin(base_url: str, db: Database, tenant: TenantKeys) -> Iterator[httpx.Client]:
    with logged_in(base_url, db, tenant, Role.TENANT_ADMIN) as http:
        yield http


def api_playbooks(client: httpx.Client, tenant: TenantKeys) -> dict[str, dict[str, Any]]:
    resp = client.get("/api/v1/playbooks", headers=tenant.headers())
    assert resp.status_code == 200, resp.text
    return {p["name"]: p for p in resp.json()["items"]}


def textarea(page: str) -> str:
    found = re.search(r'<textarea[^>]*name="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def problems(page: str) -> list[str]:
    found = re.search(r'<ul id="validation-errors">(.*?)</ul>', page, re.S)
    assert found is not None, page
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_an_admin_creates_a_playbook_from_yaml(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Contain {uuid.uuid4().hex[:6]}"
    token = page_token(admin, "/ui/playbooks/new")
    resp = admin.post("/ui/playbooks/new", data={"csrf_token": token, "yaml": definition(name, 7)})
    assert resp.status_code == 303, resp.text
    saved = api_playbooks(client, tenant)[name]
    assert resp.headers["location"] == f"/ui/playbooks/{saved['id']}"
    assert saved["weight"] == 7 and saved["enabled"] is False
    listing = admin.get("/ui/playbooks")
    row = re.search(rf'<tr data-playbook-id="{saved["id"]}">(.*?)</tr>', listing.text, re.S)
    assert row is not None and name in row.group(1) and ">7<" in row.group(1)
    editor = admin.get(f"/ui/playbooks/{saved['id']}")
    assert editor.status_code == 200
    assert f"name: {name}" in textarea(editor.text) and 'id="runs"' in editor.text


def test_saving_makes_a_new_version(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Edit {uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/playbooks",
        content=definition(name),
        headers={**tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/yaml"},
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    editor = admin.get(f"/ui/playbooks/{pid}")
    text = textarea(editor.text).replace("weight: 5", "weight: 42")
    token = page_token(admin, f"/ui/playbooks/{pid}")
    resp = admin.post(
        f"/ui/playbooks/{pid}", data={"csrf_token": token, "yaml": text, "version": "1"}
    )
    assert resp.status_code == 303, resp.text
    after = client.get(f"/api/v1/playbooks/{pid}", headers=tenant.headers()).json()
    assert after["version"] == 2 and after["weight"] == 42
    stale = admin.post(
        f"/ui/playbooks/{pid}", data={"csrf_token": token, "yaml": text, "version": "1"}
    )
    assert stale.status_code == 409 and "version 2" in " ".join(problems(stale.text))
    odd = admin.post(  # a digit int() refuses: no version named, as for any other text
        f"/ui/playbooks/{pid}", data={"csrf_token": token, "yaml": text, "version": "²"}
    )
    assert odd.status_code == 303, odd.text


def test_invalid_yaml_is_explained_and_nothing_is_saved(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Broken {uuid.uuid4().hex[:6]}"
    token = page_token(admin, "/ui/playbooks/new")
    broken = f"name: {name}\ntrigger: incident\nsteps:\n- id: a\n  kind: action\n  action: [oops\n"
    resp = admin.post("/ui/playbooks/new", data={"csrf_token": token, "yaml": broken})
    assert resp.status_code == 400
    (message,) = problems(resp.text)
    assert "line 7" in message or "line 6" in message, message
    assert textarea(resp.text) == broken  # the text is kept for fixing
    wrong = (
        definition(name).replace("kind: end", "kind: teleport").replace("weight: 5", "weight: x")
    )
    resp = admin.post("/ui/playbooks/new", data={"csrf_token": token, "yaml": wrong})
    assert resp.status_code == 400
    found = problems(resp.text)
    assert any(p.startswith("weight") and "line 4" in p for p in found), found
    assert any(p.startswith("steps[0]") for p in found), found
    assert name not in api_playbooks(client, tenant)


def test_a_step_problem_names_the_step(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Dangling {uuid.uuid4().hex[:6]}"
    text = definition(name) + "  next: nowhere\n"
    token = page_token(admin, "/ui/playbooks/new")
    resp = admin.post("/ui/playbooks/new", data={"csrf_token": token, "yaml": text})
    assert resp.status_code == 400
    assert any("nowhere" in p for p in problems(resp.text)), problems(resp.text)
    assert name not in api_playbooks(client, tenant)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_other_roles_read_but_cannot_save(
    base_url: str, db: Database, client: httpx.Client, tenant: TenantKeys, role: Role
) -> None:
    name = f"Read {uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/playbooks",
        content=definition(name),
        headers={**tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/yaml"},
    )
    pid = created.json()["id"]
    with logged_in(base_url, db, tenant, role) as http:
        listing = http.get("/ui/playbooks")
        assert listing.status_code == 200 and name in listing.text
        assert 'id="new-playbook"' not in listing.text
        editor = http.get(f"/ui/playbooks/{pid}")
        assert editor.status_code == 200 and "readonly" in editor.text
        assert 'id="save-playbook"' not in editor.text
        token = page_token(http, f"/ui/playbooks/{pid}")
        text = definition(name, 99)
        refused = http.post(f"/ui/playbooks/{pid}", data={"csrf_token": token, "yaml": text})
        assert refused.status_code == 403
        new = http.post("/ui/playbooks/new", data={"csrf_token": token, "yaml": definition("x")})
        assert new.status_code == 403
    assert client.get(f"/api/v1/playbooks/{pid}", headers=tenant.headers()).json()["version"] == 1


def test_without_the_csrf_token_nothing_is_saved(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Forged {uuid.uuid4().hex[:6]}"
    resp = admin.post("/ui/playbooks/new", data={"yaml": definition(name)})
    assert resp.status_code == 403
    assert name not in api_playbooks(client, tenant)


def test_another_tenants_playbook_is_not_found(
    admin: httpx.Client, client: httpx.Client, other_tenant: TenantKeys
) -> None:
    created = client.post(
        "/api/v1/playbooks",
        content=definition(f"Theirs {uuid.uuid4().hex[:6]}"),
        headers={**other_tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/yaml"},
    )
    pid = created.json()["id"]
    assert admin.get(f"/ui/playbooks/{pid}").status_code == 404
    token = page_token(admin, "/ui/playbooks")
    text = definition("Mine now")
    assert (
        admin.post(f"/ui/playbooks/{pid}", data={"csrf_token": token, "yaml": text}).status_code
        == 404
    )
    assert admin.get(f"/ui/playbooks/{uuid.uuid4()}").status_code == 404


def test_run_history_lists_the_playbooks_processes(
    admin: httpx.Client, client: httpx.Client, tenant: TenantKeys
) -> None:
    name = f"Runs {uuid.uuid4().hex[:6]}"
    created = client.post(
        "/api/v1/playbooks",
        content=definition(name),
        headers={**tenant.headers(Role.TENANT_ADMIN), "Content-Type": "application/yaml"},
    )
    pid = created.json()["id"]
    incident = client.post(
        "/api/v1/incidents", json={"description": "run me", "severity": 4}, headers=tenant.headers()
    ).json()["id"]
    started = client.post(
        f"/api/v1/incidents/{incident}/soar/start",
        json={"playbook": name},
        headers=tenant.headers(),
    )
    assert started.status_code in (200, 201, 202), started.text
    page = admin.get(f"/ui/playbooks/{pid}")
    runs = re.search(r'<table id="runs".*?</table>', page.text, re.S)
    assert runs is not None
    assert f'href="/ui/incidents/{incident}"' in runs.group(0)
