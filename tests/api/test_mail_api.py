"""E-mail settings over the API, and notification mail caused by API calls: members' opt-out
(`/users/{id}/notifications`, `emailOptOut` on the user), the tenant's intake address
(validated, unique), and the assignment mail the shared server's worker sends to the session's
SMTP sink. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from muster.db.engine import Database
from muster.models.enums import Role
from muster.notify.mail.fanout import NOTIFY_JOB
from muster.worker.jobs import JOBS
from tests.api.apicalls import assert_problem, create_incident, patch_incident, wait_for
from tests.conftest import MailSink
from tests.factories import TenantKeys


def add_user(client: httpx.Client, tenant: TenantKeys, role: Role = Role.ANALYST) -> dict[str, Any]:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.test"
    body = {"email": email, "name": f"{role.value} {email[-17:-13]}", "role": role.value}
    resp = client.post("/api/v1/users", json=body, headers=tenant.headers(Role.TENANT_ADMIN))
    assert resp.status_code == 201, resp.text
    user: dict[str, Any] = resp.json()
    return user


class TestOptOut:
    def test_admins_read_and_set_a_members_opt_out(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        user = add_user(client, tenant)
        assert user["emailOptOut"] == []
        admin = tenant.headers(Role.TENANT_ADMIN)
        path = f"/api/v1/users/{user['id']}/notifications"
        assert client.get(path, headers=admin).json() == {"emailOptOut": []}
        put = client.put(path, json={"emailOptOut": ["sla", "assignment", "sla"]}, headers=admin)
        assert put.status_code == 200, put.text
        assert put.json() == {"emailOptOut": ["assignment", "sla"]}
        assert client.get(f"/api/v1/users/{user['id']}", headers=admin).json()["emailOptOut"] == [
            "assignment",
            "sla",
        ]
        put = client.put(path, json={"emailOptOut": ["question", "all"]}, headers=admin)
        assert put.json() == {"emailOptOut": ["all"]}
        patched = client.patch(
            f"/api/v1/users/{user['id']}", json={"emailOptOut": []}, headers=admin
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["emailOptOut"] == []

        bad = client.put(path, json={"emailOptOut": ["newsletters"]}, headers=admin)
        assert_problem(bad, 400, field="emailOptOut")
        analyst = client.put(path, json={"emailOptOut": []}, headers=tenant.headers())
        assert_problem(analyst, 403)
        other = other_tenant.headers(Role.TENANT_ADMIN)
        assert_problem(client.get(path, headers=other), 404)
        assert_problem(client.put(path, json={"emailOptOut": ["all"]}, headers=other), 404)

    def test_an_opted_out_member_gets_no_assignment_mail(
        self, client: httpx.Client, tenant: TenantKeys, mail_sink: MailSink, db: Database
    ) -> None:
        quiet, keen = add_user(client, tenant), add_user(client, tenant)
        resp = client.put(
            f"/api/v1/users/{quiet['id']}/notifications",
            json={"emailOptOut": ["assignment"]},
            headers=tenant.headers(Role.TENANT_ADMIN),
        )
        assert resp.status_code == 200, resp.text
        first = create_incident(client, tenant)
        assert patch_incident(client, tenant, first["id"], assignee=quiet["email"]).is_success
        second = create_incident(client, tenant)
        assert patch_incident(client, tenant, second["id"], assignee=keen["email"]).is_success

        [mail] = mail_sink.wait(keen["email"])
        assert (
            mail["Subject"]
            == f"[{second['incidentHash']}] Assigned to you: {second['description']}"
        )
        wait_for(lambda: {"states": job_states(db, tenant)}, lambda s: s["states"] == ["done"] * 2)
        assert mail_sink.messages(quiet["email"]) == []


def job_states(db: Database, tenant: TenantKeys) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(JOBS.c.state).where(JOBS.c.tenant_id == tenant.id, JOBS.c.kind == NOTIFY_JOB)
        )
        return [row.state for row in rows]


class TestIntakeSetting:
    def patch(self, client: httpx.Client, tenant: TenantKeys, settings: dict[str, Any]) -> Any:
        return client.patch(
            f"/api/v1/tenants/{tenant.id}",
            json={"settings": settings},
            headers=tenant.headers(Role.TENANT_ADMIN),
        )

    def test_the_intake_address_is_checked_and_unique(
        self, client: httpx.Client, tenant: TenantKeys, other_tenant: TenantKeys
    ) -> None:
        bad = self.patch(client, tenant, {"emailIntake": "not an address"})
        assert_problem(bad, 400, field="settings.emailIntake")
        address = f"Report-{uuid.uuid4().hex[:8]}@Corp.Test"
        ok = self.patch(
            client, tenant, {"emailIntake": address, "emailIntakeSenders": ["@Corp.test"]}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["settings"]["emailIntake"] == address.lower()
        assert ok.json()["settings"]["emailIntakeSenders"] == ["@corp.test"]
        again = self.patch(client, tenant, {"emailIntake": address.lower()})  # its own: fine
        assert again.status_code == 200, again.text

        taken = self.patch(client, other_tenant, {"emailIntake": address.upper()})
        assert_problem(taken, 409, "tenant.email_intake_taken")

        senders = self.patch(client, tenant, {"emailIntakeSenders": ["not a domain!"]})
        assert_problem(senders, 400, field="settings.emailIntakeSenders[0]")
        cleared = self.patch(client, tenant, {})
        assert cleared.status_code == 200 and "emailIntake" not in cleared.json()["settings"]
        freed = self.patch(client, other_tenant, {"emailIntake": address})
        assert freed.status_code == 200, freed.text
