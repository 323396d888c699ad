"""Test data builders (plain functions): tenants with keys, users and alerts."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from muster.clock import SystemClock
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.models.enums import Role
from muster.tenants import apikeys
from muster.tenants.schemas import TenantCreate, UserCreate
from muster.tenants.service import create_tenant
from muster.tenants.users import create_user

_seq = itertools.count(1)


@dataclass
class TenantKeys:
    """A tenant made for one test, with a key per role and one analyst member."""

    id: uuid.UUID
    name: str
    keys: dict[Role, str] = field(default_factory=dict)
    member_email: str = ""
    member_name: str = ""

    def headers(self, role: Role = Role.ANALYST) -> dict[str, str]:
        """Authorization headers for the key of `role`."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_tenant(db: Database, **flags: Any) -> TenantKeys:
    """Create a tenant with viewer, analyst and tenant_admin keys and an analyst member."""
    now = SystemClock().now()
    name = f"tenant-{uuid.uuid4().hex[:10]}"
    with unit_of_work(db, SystemContext(), write=True) as session:
        tenant = create_tenant(session, TenantCreate(name=name), now)
        out = TenantKeys(tenant.id, name)
        for role in (Role.VIEWER, Role.ANALYST, Role.TENANT_ADMIN):
            out.keys[role] = apikeys.create_key(
                session,
                name=f"{role.value}-key",
                role=role,
                tenant_id=tenant.id,
                created_by="tests",
                now=now,
            ).key
    out.member_email = f"analyst{next(_seq)}-{uuid.uuid4().hex[:6]}@example.test"
    out.member_name = "Ana Lyst"
    with unit_of_work(db, TenantContext(out.id), write=True) as session:
        create_user(
            session,
            UserCreate(email=out.member_email, name=out.member_name, role=Role.ANALYST),
            now,
            by_global=True,
        )
    return out


def make_global_key(db: Database) -> str:
    """A new global_admin API key."""
    with unit_of_work(db, SystemContext(), write=True) as session:
        return apikeys.create_key(
            session,
            name="global-tests",
            role=Role.GLOBAL_ADMIN,
            tenant_id=None,
            created_by="tests",
            now=SystemClock().now(),
        ).key


def alert(**over: Any) -> dict[str, Any]:
    """A plausible alert body (API field names); override any field."""
    body: dict[str, Any] = {
        "ruleName": "Suspicious PowerShell download cradle",
        "source": "Microsoft Defender for Endpoint",
        "externalId": f"ext-{uuid.uuid4().hex}",
        "severity": 3,
        "hostname": "ws-0142.corp.example",
        "username": "j.doe@corp.example",
        "srcIp": "10.20.30.40",
        "mitreTactic": "Execution",
        "mitreTechnique": "T1059.001",
        "initiatorCmd": "powershell.exe -nop -w hidden -c IEX(New-Object Net.WebClient)",
    }
    body.update(over)
    return body
