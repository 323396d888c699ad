"""`/api/v1/playbooks` and `/api/v1/actions` over HTTP: CRUD, YAML, versions, checks, roles,
tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models import AuditEvent, SoarProcess
from muster.models.enums import Role
from tests.api.apicalls import assert_problem, create_incident
from tests.factories import TenantKeys

BASE = "/api/v1/playbooks"
YAML = {"Content-Type": "application/yaml"}


def body(name: str = "Triage", **over: Any) -> dict[str, Any]:
    """A valid playbook: ask, then raise the severity or end."""
    return {
        "name": name,
        "description": "Ask, then act",
        "trigger": "manual",
        "weight": 10,
        "criteria": "severity >= 2",
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": "Raise the severity?",
                "options": ["yes", "no"],
                "answerMemory": "raise",
                "timeout": "15m",
                "next": "decide",
            },
            {
                "id": "decide",
                "kind": "condition",
                "branches": [{"when": 'memory.raise = "yes"', "next": "raise"}],
            },
            {"id": "raise", "kind": "action", "action": "set_severity", "params": {"severity": 4}},
        ],
        **over,
    }


def admin(tenant: TenantKeys, **extra: str) -> dict[str, str]:
    return {**tenant.headers(Role.TENANT_ADMIN), **extra}


def create(client: httpx.Client, tenant: TenantKeys, **over: Any) -> dict[str, Any]:
    resp = client.post(BASE, json=body(**over), headers=admin(tenant))
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def definition_fields(read: dict[str, Any]) -> dict[str, Any]:
    drop = {"id", "tenantId", "version", "createdAt", "updatedAt"}
    return {k: v for k, v in read.items() if k not in drop}


class TestCrud:
    def test_create_read_list_replace_delete(
        self, client: httpx.Client, tenant: TenantKeys, db: Database
    ) -> None:
        created = create(client, tenant)
        assert created["version"] == 1 and created["tenantId"] == str(tenant.id)
        assert created["steps"][0]["timeout"] == "15m"
        assert created["criteria"] == "severity >= 2" and created["handBack"] == "previous"
        url = f"{BASE}/{created['id']}"
        viewer = tenant.headers(Role.VIEWER)

        got = client.get(url, headers=viewer)
        assert got.status_code == 200 and got.json() == created
        assert got.headers["etag"] == '"1"'

        listed = client.get(BASE, headers=viewer).json()
        assert [i["name"] for i in listed["items"]] == ["Triage"]
        assert listed["items"][0]["stepCount"] == 3 and listed["nextCursor"] is None

        changed = body(weight=99, enabled=False)
        resp = client.put(url, json=changed, headers=admin(tenant))
        assert resp.status_code == 200, resp.text
        assert resp.json()["version"] == 2 and resp.json()["weight"] == 99
        assert resp.headers["etag"] == '"2"'

        assert client.delete(url, headers=admin(tenant)).status_code == 204
        assert_problem(client.get(url, headers=viewer), 404, "playbook.not_found")
        assert_problem(client.get(f"{url}/versions/1", headers=viewer), 404)

        with unit_of_work(db, TenantContext(tenant.id)) as session:
            events = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_id == uuid.UUID(created["id"]))
                .order_by(AuditEvent.created_at, AuditEvent.action)
            ).all()
            assert [e.action for e in events] == [
                "playbook.created",
                "playbook.updated",
                "playbook.deleted",
            ]
            assert {e.subject_type for e in events} == {"playbook"}
            assert events[1].changes["weight"] == [10, 99]

    def test_list_filters_and_order(self, client: httpx.Client, tenant: TenantKeys) -> None:
        create(client, tenant, name="B", weight=5)
        create(client, tenant, name="A", weight=5)
        create(client, tenant, name="Top", weight=50, trigger="incident", enabled=False)
        viewer = tenant.headers(Role.VIEWER)

        def names(**params: Any) -> list[str]:
            resp = client.get(BASE, params=params, headers=viewer)
            assert resp.status_code == 200, resp.text
            return [i["name"] for i in resp.json()["items"]]

        assert names() == ["Top", "A", "B"]
        assert names(trigger="manual") == ["A", "B"]
        assert names(enabled="false") == ["Top"]
        first = client.get(BASE, params={"limit": 2}, headers=viewer).json()
        assert [i["name"] for i in first["items"]] == ["Top", "A"]
        rest = names(limit=2, cursor=first["nextCursor"])
        assert rest == ["B"]
        assert_problem(client.get(BASE, params={"cursor": "nonsense"}, headers=viewer), 400)
        assert_problem(client.get(BASE, params={"trigger": "sms"}, headers=viewer), 400)

    def test_duplicate_name_is_409(self, client: httpx.Client, tenant: TenantKeys) -> None:
        create(client, tenant, name="Same")
        other = create(client, tenant, name="Other")
        resp = client.post(BASE, json=body(name="Same"), headers=admin(tenant))
        assert_problem(resp, 409, "playbook.duplicate_name")
        resp = client.put(f"{BASE}/{other['id']}", json=body(name="Same"), headers=admin(tenant))
        assert_problem(resp, 409, "playbook.duplicate_name")

    def test_same_name_in_another_tenant_is_fine(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        create(client, tenant, name="Shared name")
        create(client, other_tenant, name="Shared name")


class TestVersions:
    def test_old_versions_stay_readable(self, client: httpx.Client, tenant: TenantKeys) -> None:
        created = create(client, tenant)
        url = f"{BASE}/{created['id']}"
        v2 = body(description="second", steps=[{"id": "only", "kind": "end"}])
        assert client.put(url, json=v2, headers=admin(tenant)).status_code == 200
        viewer = tenant.headers(Role.VIEWER)

        listed = client.get(f"{url}/versions", headers=viewer).json()
        assert [v["version"] for v in listed] == [2, 1]
        assert all(v["createdBy"].startswith("apikey:") for v in listed)

        first = client.get(f"{url}/versions/1", headers=viewer).json()
        assert first["playbookId"] == created["id"] and first["version"] == 1
        assert first["definition"] == definition_fields(created)
        second = client.get(f"{url}/versions/2", headers=viewer).json()
        assert second["definition"]["steps"][0]["id"] == "only"
        assert client.get(url, headers=viewer).json()["description"] == "second"
        assert_problem(client.get(f"{url}/versions/3", headers=viewer), 404)

        old = client.get(f"{url}/export", params={"version": 1}, headers=viewer)
        assert old.status_code == 200 and "kind: question" in old.text
        assert old.headers["etag"] == '"1"'

    def test_if_match(self, client: httpx.Client, tenant: TenantKeys) -> None:
        url = f"{BASE}/{create(client, tenant)['id']}"
        stale = client.put(url, json=body(weight=1), headers=admin(tenant, **{"If-Match": '"7"'}))
        assert_problem(stale, 412, "playbook.stale_version")
        fresh = client.put(url, json=body(weight=2), headers=admin(tenant, **{"If-Match": '"1"'}))
        assert fresh.status_code == 200 and fresh.headers["etag"] == '"2"'
        again = client.put(url, json=body(weight=3), headers=admin(tenant, **{"If-Match": '"1"'}))
        assert_problem(again, 412)
        bad = client.put(url, json=body(), headers=admin(tenant, **{"If-Match": "yesterday"}))
        assert_problem(bad, 400, field="If-Match")


class TestYaml:
    def test_import_export_round_trip(self, client: httpx.Client, tenant: TenantKeys) -> None:
        source = yaml.safe_dump(body(name="Från YAML: ransomware/v2"), sort_keys=False)
        resp = client.post(BASE, content=source.encode(), headers=admin(tenant, **YAML))
        assert resp.status_code == 201, resp.text
        created = resp.json()
        url = f"{BASE}/{created['id']}"

        exported = client.get(f"{url}/export", headers=tenant.headers(Role.VIEWER))
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/yaml")
        disposition = exported.headers["content-disposition"]
        assert disposition == 'attachment; filename="Fr-n-YAML-ransomware-v2.v1.yaml"'
        assert exported.text.startswith("name: 'Från YAML: ransomware/v2'\n")
        assert "timeout: 15m" in exported.text

        again = client.put(
            url, content=exported.content, headers=admin(tenant, **{"Content-Type": "text/yaml"})
        )
        assert again.status_code == 200, again.text
        assert definition_fields(again.json()) == definition_fields(created)
        assert again.json()["version"] == 2

    def test_json_read_back_can_be_put_again(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        created = create(client, tenant)
        resp = client.put(
            f"{BASE}/{created['id']}", json=definition_fields(created), headers=admin(tenant)
        )
        assert resp.status_code == 200, resp.text
        assert definition_fields(resp.json()) == definition_fields(created)

    def test_malformed_yaml_names_the_line(self, client: httpx.Client, tenant: TenantKeys) -> None:
        text = "name: Broken\nsteps:\n  - id: a\n    kind: end\n   oops: [\n"
        resp = client.post(BASE, content=text, headers=admin(tenant, **YAML))
        problem = assert_problem(resp, 400, "request.malformed_yaml", "body")
        assert problem["errors"][0]["line"] == 5 and "line 5" in problem["detail"]

    def test_invalid_fields_name_field_and_line(
        self, client: httpx.Client, tenant: TenantKeys
    ) -> None:
        text = "name: Bad\nsteps:\n  - id: a\n    kind: question\n    timeout: forever\n"
        resp = client.post(BASE, content=text, headers=admin(tenant, **YAML))
        problem = assert_problem(resp, 400, "validation_failed", "steps[0].timeout")
        timeout = next(e for e in problem["errors"] if e["field"] == "steps[0].timeout")
        assert timeout["line"] == 5

    def test_json_and_content_type_errors(self, client: httpx.Client, tenant: TenantKeys) -> None:
        bad_json = client.post(BASE, content=b"{nope", headers=admin(tenant))
        assert_problem(bad_json, 400, "request.malformed_json")
        wrong = client.post(
            BASE, content=b"name=x", headers=admin(tenant, **{"Content-Type": "text/plain"})
        )
        assert_problem(wrong, 400, "request.unsupported_media_type", "Content-Type")
        shape = client.post(BASE, json={"name": "x", "steps": [{"id": "a"}]}, headers=admin(tenant))
        assert_problem(shape, 400, "validation_failed", "steps[0]")


class TestChecks:
    def test_bad_graph_names_the_step(self, client: httpx.Client, tenant: TenantKeys) -> None:
        steps = body()["steps"]
        steps[1]["branches"][0]["next"] = "ask"  # back to the start: a cycle
        resp = client.post(BASE, json=body(steps=steps), headers=admin(tenant))
        problem = assert_problem(resp, 400, "playbook.invalid", "steps[1].branches[0].next")
        assert problem["detail"].startswith("step 'decide' (steps[1].branches[0].next)")
        assert "ask → decide → ask" in problem["detail"]
        assert problem["errors"][0]["step"] == "decide"

    def test_every_problem_is_listed(self, client: httpx.Client, tenant: TenantKeys) -> None:
        steps = body()["steps"]
        steps[0]["next"] = "nowhere"
        steps[2]["params"] = {"severity": 9, "colour": "red"}
        resp = client.post(BASE, json=body(steps=steps), headers=admin(tenant))
        problem = assert_problem(resp, 400, "playbook.invalid")
        fields = {e["field"] for e in problem["errors"]}
        assert {"steps[0].next", "steps[2].params.severity", "steps[2].params.colour"} <= fields
        assert "step 'ask'" in problem["detail"]

    def test_unknown_action(self, client: httpx.Client, tenant: TenantKeys) -> None:
        steps = [{"id": "go", "kind": "action", "action": "launch_missiles"}]
        resp = client.post(BASE, json=body(steps=steps), headers=admin(tenant))
        problem = assert_problem(resp, 400, "playbook.invalid", "steps[0].action")
        assert "step 'go'" in problem["detail"] and "set_severity" in problem["detail"]

    def test_bad_params(self, client: httpx.Client, tenant: TenantKeys) -> None:
        steps = [{"id": "sev", "kind": "action", "action": "set_severity", "params": {}}]
        resp = client.post(BASE, json=body(steps=steps), headers=admin(tenant))
        assert_problem(resp, 400, "playbook.invalid", "steps[0].params.severity")
        steps[0]["params"] = {"severity": "{{ memory.level }}"}
        assert client.post(BASE, json=body(steps=steps), headers=admin(tenant)).status_code == 201

    def test_bad_criteria(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.post(BASE, json=body(criteria="severity >>"), headers=admin(tenant))
        problem = assert_problem(resp, 400, "playbook.invalid", "criteria")
        assert "line 1" in problem["detail"]

    def test_sub_playbooks(self, client: httpx.Client, tenant: TenantKeys) -> None:
        run_child = [{"id": "child", "kind": "playbook", "playbook": "Child"}]
        resp = client.post(BASE, json=body(name="Parent", steps=run_child), headers=admin(tenant))
        assert_problem(resp, 400, "playbook.invalid", "steps[0].playbook")
        child = create(client, tenant, name="Child")
        parent = create(client, tenant, name="Parent", steps=run_child)

        back = [{"id": "up", "kind": "playbook", "playbook": "Parent"}]
        resp = client.put(
            f"{BASE}/{child['id']}", json=body(name="Child", steps=back), headers=admin(tenant)
        )
        problem = assert_problem(resp, 400, "playbook.invalid", "steps[0].playbook")
        assert "Child → Parent → Child" in problem["detail"]

        renamed = client.put(f"{BASE}/{child['id']}", json=body(name="Kid"), headers=admin(tenant))
        assert_problem(renamed, 409, "playbook.in_use")
        assert_problem(client.delete(f"{BASE}/{child['id']}", headers=admin(tenant)), 409)
        assert client.delete(f"{BASE}/{parent['id']}", headers=admin(tenant)).status_code == 204
        assert client.delete(f"{BASE}/{child['id']}", headers=admin(tenant)).status_code == 204


class TestDelete:
    def test_running_process_blocks_delete(
        self, client: httpx.Client, tenant: TenantKeys, db: Database
    ) -> None:
        created = create(client, tenant)
        incident = create_incident(client, tenant)
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            now = datetime.now(UTC)
            process = SoarProcess(
                tenant_id=tenant.id,
                incident_id=uuid.UUID(incident["id"]),
                playbook_id=uuid.UUID(created["id"]),
                playbook_version=1,
                process_hash=uuid.uuid4().hex[:16],
                trigger="manual",
                started_by="tests",
                status="WAITING_INPUT",
                created_at=now,
                updated_at=now,
            )
            session.add(process)
            session.flush()
            process_id = process.id
        url = f"{BASE}/{created['id']}"
        assert_problem(client.delete(url, headers=admin(tenant)), 409, "playbook.running")
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            found = session.get(SoarProcess, process_id)
            assert found is not None
            found.status = "FINISHED"
        assert client.delete(url, headers=admin(tenant)).status_code == 204


class TestAccess:
    @pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
    def test_only_tenant_admins_write(
        self, client: httpx.Client, tenant: TenantKeys, role: Role
    ) -> None:
        url = f"{BASE}/{create(client, tenant)['id']}"
        headers = tenant.headers(role)
        assert_problem(client.post(BASE, json=body(name="New"), headers=headers), 403)
        assert_problem(client.put(url, json=body(), headers=headers), 403)
        assert_problem(client.delete(url, headers=headers), 403)
        for path in (url, f"{url}/export", f"{url}/versions", f"{url}/versions/1", BASE):
            assert client.get(path, headers=headers).status_code == 200, path

    def test_no_key_is_401(self, client: httpx.Client) -> None:
        assert_problem(client.get(BASE), 401)
        assert_problem(client.get("/api/v1/actions"), 401)

    def test_other_tenants_playbook_is_404_everywhere(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        url = f"{BASE}/{create(client, tenant, name='Mine')['id']}"
        theirs = admin(other_tenant)
        calls = [
            client.get(url, headers=theirs),
            client.put(url, json=body(name="Mine"), headers=theirs),
            client.put(url, content=yaml.safe_dump(body()), headers={**theirs, **YAML}),
            client.delete(url, headers=theirs),
            client.get(f"{url}/export", headers=theirs),
            client.get(f"{url}/versions", headers=theirs),
            client.get(f"{url}/versions/1", headers=theirs),
        ]
        for resp in calls:
            assert_problem(resp, 404, "playbook.not_found")
        assert client.get(BASE, headers=theirs).json()["items"] == []
        assert client.get(url, headers=admin(tenant)).json()["version"] == 1


class TestActionsAndDocs:
    def test_actions_registry(self, client: httpx.Client, tenant: TenantKeys) -> None:
        resp = client.get("/api/v1/actions", headers=tenant.headers(Role.VIEWER))
        assert resp.status_code == 200
        actions = {a["name"]: a for a in resp.json()}
        severity = actions["set_severity"]
        assert severity["summary"] and "severity" in severity["inputSchema"]["properties"]
        assert severity["outputSchema"]["type"] == "object"
        assert list(actions) == sorted(actions)

    def test_openapi_documents_both_body_formats(self, client: httpx.Client) -> None:
        spec = client.get("/openapi.json").json()
        content = spec["paths"][BASE]["post"]["requestBody"]["content"]
        assert {"application/json", "application/yaml"} <= content.keys()
        ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert "steps" in spec["components"]["schemas"][ref]["properties"]
        assert "put" in spec["paths"][f"{BASE}/{{playbook_id}}"]
