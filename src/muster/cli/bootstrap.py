"""`muster bootstrap`: the first tenant, admin and key on an empty database (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.panel import Panel
from sqlalchemy import select

from muster.cli.main import app, cli_actor, console
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, create_db_engine, unit_of_work
from muster.models import Tenant
from muster.models.enums import Role
from muster.tenants import apikeys
from muster.tenants.schemas import TenantCreate, UserCreate
from muster.tenants.service import create_tenant
from muster.tenants.users import create_user


@app.command()
def bootstrap(
    tenant: Annotated[str, typer.Option(help="name of the first tenant")] = "Default",
    email: Annotated[str, typer.Option(help="admin e-mail")] = "admin@muster.local",
) -> None:
    """On an empty database: create a tenant, a global admin who can log in to the web console,
    and API keys (the password and keys are printed once)."""
    db = create_db_engine(Settings())
    password = secrets.token_urlsafe(12)
    now = SystemClock().now()
    actor = cli_actor()
    with unit_of_work(db, SystemContext()) as session:
        if session.scalar(select(Tenant.id).limit(1)) is not None:
            console.print("[dim]muster already has tenants; bootstrap skipped[/dim]")
            return
    with unit_of_work(db, SystemContext(), write=True) as session:
        first = create_tenant(session, TenantCreate(name=tenant), now, actor=actor)
        tenant_id = first.id
        key = apikeys.create_key(
            session,
            name="bootstrap",
            role=Role.GLOBAL_ADMIN,
            tenant_id=None,
            created_by="bootstrap",
            now=now,
            actor=actor,
        )
        tenant_key = apikeys.create_key(
            session,
            name="bootstrap-analyst",
            role=Role.ANALYST,
            tenant_id=tenant_id,
            created_by="bootstrap",
            now=now,
            actor=actor,
        )
    with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
        create_user(
            session,
            UserCreate(
                email=email,
                name="Administrator",
                role=Role.GLOBAL_ADMIN,
                password=SecretStr(password),
            ),
            now,
            by_global=True,
            actor=actor,
        )
    console.print(
        Panel.fit(
            f"tenant      [bold]{tenant}[/bold]  id {tenant_id}\n"
            f"admin user  {email} (global admin)\n"
            f"web console http://127.0.0.1:8000/ui/ (log in as {email})\n"
            f"  password  [bold yellow]{password}[/bold yellow]\n\n"
            f"global admin API key (acts in a tenant via X-Muster-Tenant):\n"
            f"  [bold yellow]{key.key}[/bold yellow]\n"
            f"analyst API key for tenant {tenant}:\n"
            f"  [bold yellow]{tenant_key.key}[/bold yellow]\n\n"
            "The password and these keys are shown ONCE. Store them now.",
            title="muster is set up",
            border_style="green",
        )
    )
