"""Tenant scoping, enforced in one place.

A session opened by `unit_of_work` carries a context in `session.info["ctx"]`:

- `TenantContext(tenant_id)`: every ORM select, update and delete touching a `TenantScoped`
  table is filtered by `tenant_id`, and new `TenantScoped` rows are stamped with it (a row
  carrying another tenant's id is refused). Another tenant's id therefore loads `None`.
- `SystemContext()`: no filter. Only the CLI, migrations, authentication and the job runner's
  claim step use it.

A statement may opt out with `execution_options(skip_tenancy=True)`; that is used only for
checks of global uniqueness (incident hashes, ids a client chooses: `id_taken`) that return
no tenant data.

ORM bulk statements ignore loader criteria, so in a tenant session `insert(Model)` rows naming
another tenant are refused, and bulk UPDATE by primary key (`update(Model)` with a list of rows)
of a `TenantScoped` model is refused outright.

Core `insert()` / `text()` statements bypass these hooks; they are written only in repositories
and bind `tenant_id` explicitly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import InstrumentedAttribute, ORMExecuteState, Session, with_loader_criteria

from muster.db.base import TenantScoped


@dataclass(frozen=True, slots=True)
class TenantContext:
    """A session that sees exactly one tenant."""

    tenant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SystemContext:
    """A session that sees every tenant (CLI, migrations, auth lookups, job claims)."""

    all_tenants: bool = True


Context = TenantContext | SystemContext


class TenancyViolation(RuntimeError):
    """A session tried to touch tenant data without a context, or another tenant's row."""


def context_of(session: Session) -> Context:
    """Return the session's context or raise if it has none."""
    ctx = session.info.get("ctx")
    if not isinstance(ctx, TenantContext | SystemContext):
        raise TenancyViolation("session has no tenancy context; open it with unit_of_work()")
    return ctx


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    if state.execution_options.get("skip_tenancy"):  # global uniqueness checks only
        return
    ctx = context_of(state.session)
    if isinstance(ctx, SystemContext):
        return
    tenant_id = ctx.tenant_id
    if state.is_insert or (state.is_update and isinstance(state.parameters, list)):
        _check_bulk_rows(state, tenant_id)
        if state.is_insert:
            return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


def _check_bulk_rows(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """ORM bulk statements (`insert(Model)`, `update(Model)` with a list of rows) ignore loader
    criteria: refuse rows naming another tenant, and bulk UPDATE by primary key altogether."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantScoped):
        return
    if state.is_update:
        raise TenancyViolation(
            f"bulk UPDATE by primary key of {mapper.class_.__name__} is not tenant-scoped; "
            "use update(...).where(...) or a repository statement that binds tenant_id"
        )
    params = state.parameters
    rows: list[Any] = list(params) if isinstance(params, list | tuple) else [params or {}]
    for row in rows:
        if row.get("tenant_id", tenant_id) != tenant_id:
            raise TenancyViolation(f"{mapper.class_.__name__} row belongs to another tenant")


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _flush_context: Any, _instances: Any) -> None:
    ctx = context_of(session)
    if isinstance(ctx, SystemContext):
        return
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        current = getattr(obj, "tenant_id", None)
        if current is None:
            obj.tenant_id = ctx.tenant_id
        elif current != ctx.tenant_id:
            raise TenancyViolation(f"{type(obj).__name__} belongs to another tenant")


def tenant_id_of(session: Session) -> uuid.UUID:
    """Return the session's tenant id; raise if the session is a system session."""
    ctx = context_of(session)
    if isinstance(ctx, SystemContext):
        raise TenancyViolation("this operation needs a tenant context")
    return ctx.tenant_id


def id_taken(session: Session, column: InstrumentedAttribute[uuid.UUID], ident: uuid.UUID) -> bool:
    """True when a row of any tenant holds `ident` in `column`: the global uniqueness check of
    an id a client chooses (it returns nothing of the row). Callers that found no such row in
    their own tenant answer NotFound, as for any other tenant's id."""
    found = session.scalar(
        select(column).where(column == ident).limit(1).execution_options(skip_tenancy=True)
    )
    return found is not None
