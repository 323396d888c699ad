"""Gauges read from the database when Prometheus scrapes: open incidents and the job queue.

`DatabaseGauges` is a prometheus-client collector bound to one app's `Database`. It is never
registered in the global registry (tests and embedders build many apps in one process);
`scrape_registry` builds a throw-away registry per scrape holding the process's own metrics
(`muster.telemetry`, process and GC collectors) and this database's gauges. A scrape costs one
grouped count of the open incidents and the queue counts of `muster.worker.jobs.queue_stats`
(on `ix_jobs_claim`). If the database cannot be read, the process metrics are still served and
`muster_database_up` is 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from muster.clock import Clock
from muster.db import SystemContext, unit_of_work
from muster.db.engine import Database
from muster.models import Incident, Tenant
from muster.models.enums import IncidentStatus
from muster.worker.jobs import queue_stats

log = structlog.get_logger("muster.api")

SEVERITIES = (1, 2, 3, 4)
OPEN_STATUSES = tuple(s.value for s in IncidentStatus if s != IncidentStatus.RESOLVED)


def open_incidents_by_severity(session: Session) -> dict[int, int]:
    """Incidents not RESOLVED, across every tenant, per severity 1..4 (0 where there are none).

    Asked per tenant (`tenant_id IN (tenants)`) so that SQLite reads each tenant's open
    incidents as a range of `ix_incidents_tenant_status_created` instead of scanning the
    table; PostgreSQL chooses between that and a parallel scan (docs/observability.md)."""
    stmt = (
        select(Incident.severity, func.count())
        .where(Incident.tenant_id.in_(select(Tenant.id)), Incident.status.in_(OPEN_STATUSES))
        .group_by(Incident.severity)
    )
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity, count in session.execute(stmt):
        counts[int(severity)] = counts.get(int(severity), 0) + int(count)
    return counts


class DatabaseGauges(Collector):
    """Open incidents by severity and the job queue, read at every scrape."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        """Nothing: the names are fixed, and describing must not query the database."""
        return ()

    def collect(self) -> Iterator[Metric]:
        """The gauges, or `muster_database_up 0` when the database cannot be read."""
        began = time.perf_counter()
        try:
            with unit_of_work(self.db, SystemContext()) as session:
                incidents = open_incidents_by_severity(session)
                jobs = queue_stats(session, now=self.clock.now())
        except SQLAlchemyError as exc:
            log.warning("metrics_database_unavailable", error=type(exc).__name__)
            yield _gauge("muster_database_up", "1 when the last scrape could read the database", 0)
            return
        yield _gauge("muster_database_up", "1 when the last scrape could read the database", 1)
        open_family = GaugeMetricFamily(
            "muster_open_incidents",
            "Incidents not RESOLVED, all tenants, by severity (1 Informational .. 4 High)",
            labels=["severity"],
        )
        for severity, count in sorted(incidents.items()):
            open_family.add_metric([str(severity)], count)
        yield open_family
        jobs_family = GaugeMetricFamily(
            "muster_jobs", "Jobs in the queue by state (done jobs excluded)", labels=["state"]
        )
        for state in ("queued", "running", "failed"):
            jobs_family.add_metric([state], jobs[state])  # type: ignore[literal-required]
        yield jobs_family
        yield _gauge(
            "muster_jobs_oldest_due_age_seconds",
            "How long the oldest due queued job has waited (0 when none is due)",
            jobs["oldest_queued_age_seconds"],
        )
        yield _gauge(
            "muster_database_scrape_seconds",
            "Time the database gauges of this scrape took to read",
            time.perf_counter() - began,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _ProcessMetrics(Collector):
    """The global registry (muster.telemetry, process, platform, GC) seen as one collector."""

    def collect(self) -> Iterator[Metric]:
        """Everything registered in prometheus-client's global registry."""
        yield from REGISTRY.collect()


def scrape_registry(db: Database, clock: Clock) -> CollectorRegistry:
    """A registry for one scrape: this process's metrics plus `db`'s gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessMetrics())
    registry.register(DatabaseGauges(db, clock))
    return registry
