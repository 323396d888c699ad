"""Incident metrics: MTTA, MTTR, SLA attainment and counts per group (docs/metrics.md).

`incident_metrics` runs one aggregate statement (`muster.sla.metrics_sql`) in the caller's
transaction and shapes its rows; it never commits. Scope is structural: for scope=tenant the
statement is bound to the session's own tenant; scope=all needs a system session, which only
the global-admin route opens.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.db.tenancy import SystemContext, context_of, tenant_id_of
from muster.errors import Forbidden
from muster.models import Tenant
from muster.sla.metrics_params import Dimension, MetricsQuery, Scope
from muster.sla.metrics_sql import metrics_statement

__all__ = ["DurationFigures", "MetricsGroup", "MetricsReport", "incident_metrics"]


@dataclass(frozen=True, slots=True)
class DurationFigures:
    """Median, mean and p90 of a duration, in seconds (None when nothing was measured)."""

    median: float | None
    mean: float | None
    p90: float | None


@dataclass(frozen=True, slots=True)
class MetricsGroup:
    """The figures of one group; `key` holds one value per grouped dimension."""

    key: Mapping[Dimension, Any]
    opened: int
    resolved: int
    breached: int
    excluded: int
    mtta: DurationFigures
    mttr: DurationFigures
    within_sla_percent: float | None
    tenant_name: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """What was asked, when it was computed, and one entry per group."""

    query: MetricsQuery
    generated_at: datetime
    groups: Sequence[MetricsGroup]


def incident_metrics(session: Session, query: MetricsQuery, now: datetime) -> MetricsReport:
    """The figures for `query` as of `now`, computed in the database, groups in key order."""
    tenant_id = _bound_tenant(session, query.scope)
    built = metrics_statement(session.get_bind().dialect.name, query, tenant_id, now)
    rows = session.connection().execute(built.statement, built.params).mappings().all()
    groups = [_group(row, built.keys) for row in rows]
    if Dimension.TENANT in built.keys:
        names = _tenant_names(session, {g.key[Dimension.TENANT] for g in groups})
        groups = [replace(g, tenant_name=names.get(g.key[Dimension.TENANT])) for g in groups]
    groups.sort(key=lambda g: tuple((v is None, v) for v in g.key.values()))
    return MetricsReport(query, now, groups)


def _bound_tenant(session: Session, scope: Scope) -> uuid.UUID | None:
    """The tenant the statement is bound to; None (every tenant) only in a system session."""
    if scope is Scope.ALL:
        if not isinstance(context_of(session), SystemContext):
            raise Forbidden("scope=all needs a global admin", code="auth.role_required")
        return None
    return tenant_id_of(session)


def _group(row: Mapping[Any, Any], keys: Sequence[Dimension]) -> MetricsGroup:
    key = {dimension: row[f"g{i}"] for i, dimension in enumerate(keys)}
    return MetricsGroup(
        key=key,
        opened=int(row["opened"]),
        resolved=int(row["resolved"]),
        breached=int(row["breached"]),
        excluded=int(row["excluded"]),
        mtta=DurationFigures(row["tta_median"], row["tta_mean"], row["tta_p90"]),
        mttr=DurationFigures(row["ttr_median"], row["ttr_mean"], row["ttr_p90"]),
        within_sla_percent=row["within_percent"],
    )


def _tenant_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    found = session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))
    return {tenant_id: name for tenant_id, name in found}
