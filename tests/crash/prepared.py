"""The database a crash test starts from, made in the test process (migrations run as
`muster db upgrade` would run them; a tenant with keys and a member who can log in)."""

from __future__ import annotations

import uuid

from muster.clock import SystemClock
from muster.config import Settings
from muster.db import TenantContext, create_db_engine, unit_of_work
from muster.db.migrate import upgrade
from muster.models.enums import Role
from muster.tenants.schemas import UserCreate
from muster.tenants.users import create_user
from tests.factories import TenantKeys, make_tenant


def prepared_tenant(database_url: str) -> tuple[TenantKeys, tuple[str, str]]:
    """Migrate the empty database at `database_url` and make a tenant: its keys, and the
    (e-mail, password) of an analyst who can log in to the console."""
    settings = Settings(database_url=database_url)
    upgrade(settings)
    db = create_db_engine(settings)
    try:
        tenant = make_tenant(db)
        email, password = f"crash-{uuid.uuid4().hex[:8]}@example.test", f"pw-{uuid.uuid4().hex}"
        with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
            create_user(
                session,
                UserCreate(email=email, name="Crash Analyst", role=Role.ANALYST, password=password),
                SystemClock().now(),
                by_global=True,
            )
    finally:
        db.dispose()
    return tenant, (email, password)
