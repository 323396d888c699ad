"""`muster` commands. Each builds `Settings` once and calls services; no logic lives here."""

from __future__ import annotations

import getpass
import json
import uuid
from typing import Annotated

import typer
from rich.console import Console

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, create_db_engine, unit_of_work
from muster.incidents.lifecycle import Actor
from muster.models.enums import Role
from muster.tenants import apikeys
from muster.tenants import service as tenants
from muster.tenants.schemas import TenantCreate, TenantFlags, TenantUpdate, UserCreate
from muster.tenants.users import create_user

app = typer.Typer(help="muster: alerts in, incidents out.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True)
user_app = typer.Typer(help="Users and memberships.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")

console = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
# `serve --workers N`: uvicorn kills an API process that does not answer its health check in
# time, and a spawned process first imports this CLI again (the console script is its main
# module), which takes seconds on a busy machine; with uvicorn's default of 5 s every starting
# process was killed and replaced in a loop (tests/live/test_scale_out.py).
WORKER_HEALTHCHECK_TIMEOUT_S = 60


def cli_actor() -> Actor:
    """Who the audit log says made a change from the command line: `cli:<OS user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        user = "unknown"
    return Actor("system", f"cli:{user}", f"muster CLI ({user})")


def _print(obj: object, as_json: bool) -> None:
    data = obj.model_dump(mode="json", by_alias=True) if hasattr(obj, "model_dump") else obj
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(data)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Serve the API (database from MUSTER_DATABASE_URL)."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "muster.api.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database to the latest schema."""
    from muster.db.migrate import upgrade

    upgrade(Settings(), revision)
    console.print(f"[green]database at {revision}[/green]")


@tenant_app.command("create")
def tenant_create(
    name: str,
    demo: bool = False,
    dev: bool = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant (with the default grouping rules)."""
    db = create_db_engine(Settings())
    with unit_of_work(db, SystemContext(), write=True) as session:
        tenant = tenants.create_tenant(
            session,
            TenantCreate(name=name, flags=TenantFlags(demo=demo, dev=dev)),
            SystemClock().now(),
            actor=cli_actor(),
        )
        _print(tenants.to_read(tenant), as_json)


@tenant_app.command("list")
def tenant_list(as_json: JsonFlag = False) -> None:
    """List tenants."""
    db = create_db_engine(Settings())
    with unit_of_work(db, SystemContext()) as session:
        rows = [
            tenants.to_read(t).model_dump(mode="json", by_alias=True)
            for t in tenants.list_tenants(session)
        ]
    _print(rows, as_json)


@tenant_app.command("suspend")
def tenant_suspend(tenant_id: uuid.UUID, reason: str, as_json: JsonFlag = False) -> None:
    """Suspend a tenant: its keys get 403 and its alerts are refused."""
    _set_suspended(tenant_id, reason, as_json)


@tenant_app.command("resume")
def tenant_resume(tenant_id: uuid.UUID, as_json: JsonFlag = False) -> None:
    """Lift a suspension."""
    _set_suspended(tenant_id, None, as_json)


def _set_suspended(tenant_id: uuid.UUID, reason: str | None, as_json: bool) -> None:
    db = create_db_engine(Settings())
    now = SystemClock().now()
    with unit_of_work(db, SystemContext(), write=True) as session:
        current = tenants.to_read(tenants.get_tenant(session, tenant_id)).flags
        flags = current.model_copy(update={"suspended": reason})
        tenant = tenants.update_tenant(
            session, tenant_id, TenantUpdate(flags=flags), now, actor=cli_actor()
        )
        _print(tenants.to_read(tenant), as_json)


@user_app.command("create")
def user_create(
    email: str,
    name: str,
    tenant: Annotated[uuid.UUID, typer.Option(help="tenant id")],
    role: Annotated[Role, typer.Option(help="role in the tenant")] = Role.ANALYST,
    password: Annotated[str | None, typer.Option(help="login password (web console)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a user (or add an existing one) as a member of a tenant."""
    db = create_db_engine(Settings())
    with unit_of_work(db, TenantContext(tenant), write=True) as session:
        user = create_user(
            session,
            UserCreate(email=email, name=name, role=role, password=password),
            SystemClock().now(),
            by_global=True,
            actor=cli_actor(),
        )
        _print(user, as_json)


@apikey_app.command("create")
def apikey_create(
    tenant: Annotated[uuid.UUID | None, typer.Option(help="tenant id")] = None,
    role: Annotated[Role, typer.Option(help="role of the key")] = Role.ANALYST,
    global_: Annotated[bool, typer.Option("--global", help="a global_admin key")] = False,
    name: Annotated[str, typer.Option(help="label")] = "cli",
    as_json: JsonFlag = False,
) -> None:
    """Mint an API key; the plaintext is printed once."""
    if global_ == (tenant is not None):
        raise typer.BadParameter("give either --tenant ID or --global")
    db = create_db_engine(Settings())
    with unit_of_work(db, SystemContext(), write=True) as session:
        if tenant is not None:
            tenants.get_tenant(session, tenant)
        key = apikeys.create_key(
            session,
            name=name,
            role=Role.GLOBAL_ADMIN if global_ else role,
            tenant_id=tenant,
            created_by="cli",
            now=SystemClock().now(),
            actor=cli_actor(),
        )
        _print(key, as_json)


@apikey_app.command("list")
def apikey_list(
    tenant: Annotated[uuid.UUID | None, typer.Option(help="tenant id (omit: global keys)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List keys (never their secrets)."""
    db = create_db_engine(Settings())
    with unit_of_work(db, SystemContext()) as session:
        rows = [
            k.model_dump(mode="json", by_alias=True) for k in apikeys.list_keys(session, tenant)
        ]
    _print(rows, as_json)


@app.command()
def worker(
    threads: Annotated[int, typer.Option(min=1, help="threads running jobs")] = 1,
    batch: Annotated[
        int,
        typer.Option(
            min=1,
            help="jobs claimed at a time per thread (a run can take seconds: claiming many "
            "leaves other workers idle while this one works through them)",
        ),
    ] = 4,
    poll: Annotated[
        float | None,
        typer.Option(min=0.01, help="seconds between polls when idle [MUSTER_WORKER_POLL_SECONDS]"),
    ] = None,
) -> None:
    """Run jobs (playbook steps, timers, notifications) until Ctrl-C or SIGTERM."""
    import signal
    from datetime import timedelta

    from muster.logs import configure_logging
    from muster.worker.handlers import all_handlers, all_periodic
    from muster.worker.loop import Worker

    settings = Settings()
    configure_logging(settings)
    db = create_db_engine(settings, prepared_statements=True)
    clock = SystemClock()
    runner = Worker(
        db,
        all_handlers(db, settings, clock),
        clock=clock,
        poll_seconds=poll or settings.worker_poll_seconds,
        lease=timedelta(seconds=settings.job_lease_seconds),
        batch=batch,
        threads=threads,
        periodic=all_periodic(db, settings, clock),
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: runner.stop())
    try:
        runner.run_forever()
    finally:
        db.dispose()


def main() -> None:
    """Entry point of the `muster` script (commands are registered by `muster.cli`)."""
    app()
