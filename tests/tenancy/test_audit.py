"""Structural audits: every tenant table is scoped, every API route authenticated.

Each audit is a function over its input (a registry, an app, a database's columns) so the audit
itself is tested on a deliberately broken input, proving it can fail. Only the comparison with
the live migrated database needs a database (on SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from sqlalchemy import Column, ForeignKey, MetaData, Table, Uuid, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from starlette.routing import Mount

import muster.models  # noqa: F401  (registers every mapper)
from muster.api import create_app
from muster.api.deps import AUTHENTICATES, principal
from muster.config import Settings
from muster.db.base import Base, TenantScoped
from muster.db.engine import Database

# Tables that carry tenant_id but are deliberately not TenantScoped, and why.
UNSCOPED_ALLOWED = {
    "api_keys": "looked up by prefix before any tenant is known; global keys have no tenant",
    "jobs": "claimed across tenants by workers, which rebuild the context from tenant_id",
}

# Routes anyone may call without an API key: health, metrics, and each API's own docs;
# the web console (`/ui`, which authenticates by session cookie) lets anyone reach its login
# page, its static assets and the redirects that lead there.
API_ROOTS = ("", "/api/beta/partners", "/api/v2", "/subscriptions", "/ui")
PUBLIC_PATHS = {
    "/health",
    "/health/ready",  # readiness: pings the database, shows nothing
    "/metrics",  # Prometheus: counts only; `metrics_token` can require a bearer token
    "/",  # redirects to /ui/
    "/ui/",  # redirects to the queue or the login page
    "/ui/login",
    "/ui/static",
} | {
    root + doc
    for root in API_ROOTS
    for doc in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
}


def unscoped_tenant_tables(reg: registry) -> dict[str, str]:
    """table name -> what defines it, for tables with `tenant_id` that no TenantScoped class
    maps: mapped tables (by class name) and plain `Table()`s of the registry's metadata."""
    scoped = {
        table.name
        for mapper in reg.mappers
        if issubclass(mapper.class_, TenantScoped)
        for table in mapper.tables
    }
    found: dict[str, str] = {}
    for mapper in reg.mappers:
        for table in mapper.tables:
            if "tenant_id" in table.c and table.name not in scoped:
                found[table.name] = mapper.class_.__name__
    for table in reg.metadata.tables.values():
        if "tenant_id" in table.c and table.name not in scoped:
            found.setdefault(table.name, "Table()")
    return found


def tenant_tables_outside_models(live: dict[str, set[str]], metadata: MetaData) -> dict[str, str]:
    """table name -> why, for tables of a database (name -> its columns) that have `tenant_id`
    where the models do not: a table only a migration made, or a `tenant_id` only a migration
    added. Neither would be scoped."""
    found: dict[str, str] = {}
    for name, columns in live.items():
        if "tenant_id" not in columns:
            continue
        if name not in metadata.tables:
            found[name] = "not in the models"
        elif "tenant_id" not in metadata.tables[name].c:
            found[name] = "tenant_id not in the model"
    return found


def live_columns(db: Database) -> dict[str, set[str]]:
    """table name -> column names, of the migrated database."""
    found = inspect(db.engine)
    return {name: {c["name"] for c in found.get_columns(name)} for name in found.get_table_names()}


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route depends on, however deeply nested."""
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from calls(dep)


def flat_routes(
    routes: Iterable[Any], prefix: str = ""
) -> Iterator[tuple[str, str, Dependant | None]]:
    """(methods, path, dependant) of every route, with included routers and mounted
    sub-applications (the compatible APIs) expanded.

    FastAPI >= 0.160 keeps included routers as lazy branches in `app.routes`;
    `fastapi.routing.iter_route_contexts` expands them with their effective dependencies.
    """
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in expand(list(routes)) if expand else routes:
        mount = getattr(route, "original_route", route)  # a RouteContext wraps it
        if isinstance(mount, Mount):
            yield from flat_routes(mount.routes, prefix + mount.path)
            continue
        methods = ",".join(sorted(getattr(route, "methods", None) or ["?"]))
        path = prefix + (getattr(route, "path", "") or "")
        yield methods, path, getattr(route, "dependant", None)


def authenticated(dependant: Dependant) -> bool:
    """True when the route depends on a dependency marked `@authenticates`."""
    return any(getattr(call, AUTHENTICATES, False) for call in calls(dependant))


def unauthenticated_routes(routes: Iterable[Any], public: set[str]) -> list[str]:
    """`METHOD path` of every route outside `public` that does not authenticate its caller."""
    return [
        f"{methods} {path}"
        for methods, path, dependant in flat_routes(routes)
        if path not in public and (dependant is None or not authenticated(dependant))
    ]


class TestMapperAudit:
    def test_every_table_with_tenant_id_is_tenant_scoped(self) -> None:
        unscoped = unscoped_tenant_tables(Base.registry)
        unexpected = set(unscoped) - set(UNSCOPED_ALLOWED)
        assert not unexpected, (
            f"tables with tenant_id that are not TenantScoped: {sorted(unexpected)}; inherit "
            "TenantScoped, or add them to UNSCOPED_ALLOWED with a reason"
        )

    def test_the_allow_list_is_not_stale(self) -> None:
        unscoped = unscoped_tenant_tables(Base.registry)
        assert set(UNSCOPED_ALLOWED) <= set(unscoped), "remove entries that are now scoped"

    def test_the_tenant_tables_are_all_registered(self) -> None:
        """Guards the audit's input: if models were not imported it would pass vacuously."""
        scoped = {
            m.tables[0].name for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)
        }
        assert {
            "incidents",
            "alerts",
            "comments",
            "audit_events",
            "grouping_rules",
            "memberships",
        } <= scoped

    def test_every_scoped_table_has_a_required_tenant_foreign_key(self) -> None:
        for mapper in Base.registry.mappers:
            if not issubclass(mapper.class_, TenantScoped):
                continue
            column = mapper.local_table.c.tenant_id
            assert not column.nullable, mapper.tables[0].name
            assert {fk.column.table.name for fk in column.foreign_keys} == {"tenants"}

    def test_the_audit_catches_an_unscoped_table(self) -> None:
        class Other(DeclarativeBase):
            metadata = MetaData()

        class Tenants(Other):
            __tablename__ = "tenants"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

        class Leaky(Other):
            __tablename__ = "leaky"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
            tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))

        class Fine(TenantScoped, Other):
            __tablename__ = "fine"
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

        Table("raw", Other.metadata, Column("tenant_id", Uuid, ForeignKey("tenants.id")))
        Table("plain", Other.metadata, Column("id", Uuid, primary_key=True))

        assert unscoped_tenant_tables(Other.registry) == {"leaky": "Leaky", "raw": "Table()"}

    def test_the_migrated_database_has_no_other_tenant_tables(self, db: Database) -> None:
        live = live_columns(db)
        assert {"incidents", "alerts", "alembic_version"} <= set(live)  # the audit's input
        escaped = tenant_tables_outside_models(live, Base.metadata)
        assert not escaped, f"tables with tenant_id the models do not scope: {escaped}"
        tenant_tables = {name for name, columns in live.items() if "tenant_id" in columns}
        assert tenant_tables == {
            name for name, table in Base.metadata.tables.items() if "tenant_id" in table.c
        }

    def test_the_database_audit_catches_a_migration_only_table(self) -> None:
        live = {
            "incidents": {"id", "tenant_id"},
            "tenants": {"id", "name", "tenant_id"},
            "made_by_a_migration": {"id", "tenant_id"},
            "alembic_version": {"version_num"},
        }
        assert tenant_tables_outside_models(live, Base.metadata) == {
            "made_by_a_migration": "not in the models",
            "tenants": "tenant_id not in the model",
        }


class TestRouteAudit:
    @pytest.fixture()
    def app(self, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
        path = tmp_path_factory.mktemp("routes") / "unused.db"  # never connected to
        return create_app(Settings(database_url=f"sqlite:///{path}"))

    def test_every_route_needs_an_api_key(self, app: FastAPI) -> None:
        missing = unauthenticated_routes(app.routes, PUBLIC_PATHS)
        assert not missing, f"routes without the principal dependency: {missing}"

    def test_the_api_is_there(self, app: FastAPI) -> None:
        """Guards the audit's input: the tenant routes are mounted under /api/v1."""
        paths = {path for _, path, dependant in flat_routes(app.routes) if dependant}
        for path in ("/api/v1/alerts", "/api/v1/incidents", "/api/v1/incidents/{incident_id}"):
            assert path in paths
        for root in API_ROOTS[1:]:  # the compatible APIs are audited too
            assert any(p.startswith(root + "/") and p not in PUBLIC_PATHS for p in paths), root
        assert all(
            p.startswith(("/api/v1/", *(root + "/" for root in API_ROOTS[1:]))) or p in PUBLIC_PATHS
            for p in paths
        )

    def test_the_public_routes_stay_public(self, app: FastAPI) -> None:
        (health,) = [d for _, path, d in flat_routes(app.routes) if path == "/health"]
        assert health is not None
        assert principal not in set(calls(health))

    def test_the_audit_catches_an_open_route(self) -> None:
        app = FastAPI()
        router = fastapi.APIRouter(prefix="/api/v1")

        def ctx(who: Any = Depends(principal)) -> Any:
            return who

        @router.get("/guarded")
        def guarded(c: Any = Depends(ctx)) -> None: ...

        @router.get("/open")
        def open_route() -> None: ...

        @app.get("/also-open")
        def also_open() -> None: ...

        app.include_router(router)
        mounted = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @mounted.get("/inside")
        def inside() -> None: ...

        app.mount("/compat", mounted)

        assert unauthenticated_routes(
            app.routes, {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
        ) == ["GET /also-open", "GET /api/v1/open", "GET /compat/inside"]
