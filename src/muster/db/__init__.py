"""Database plumbing: engine, portable column types, tenancy hooks and the unit of work."""

from muster.db.base import Base, TenantScoped
from muster.db.engine import create_db_engine
from muster.db.tenancy import SystemContext, TenantContext
from muster.db.uow import unit_of_work

__all__ = [
    "Base",
    "SystemContext",
    "TenantContext",
    "TenantScoped",
    "create_db_engine",
    "unit_of_work",
]
