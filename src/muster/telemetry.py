"""Prometheus instruments: counters and histograms this process updates as work happens.

Counters count committed work only: events published by the outbox are counted when the
transaction that wrote them commits (`count_events(events, session)`), and an ingested batch
after its commit (`count_ingested`, by the caller that committed it, or with the session
whose commit it waits for), so a rolled-back or retried transaction is never counted. Gauges
that describe the database (open incidents, job queue) are read at scrape time by
`muster.gauges`. Counters are per process, as Prometheus expects: with several API processes
or workers, scrape each and sum. Every metric is listed in docs/observability.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from prometheus_client import Counter, Histogram, disable_created_metrics
from sqlalchemy import event
from sqlalchemy.orm import Session

from muster.notify.events import PublishedEvent

# `*_created` series (a counter's creation time) double the output and nobody graphs them
disable_created_metrics()  # type: ignore[no-untyped-call]

ALERTS_INGESTED = Counter(
    "muster_alerts_ingested", "Alerts accepted by ingest", ["outcome"]
)  # outcome: stored | duplicate
INCIDENTS_OPENED = Counter("muster_incidents_opened", "Incidents opened")
INCIDENTS_RESOLVED = Counter("muster_incidents_resolved", "Incidents moved to RESOLVED")
SLA_EVENTS = Counter(
    "muster_sla_events", "SLA events raised", ["event", "target"]
)  # event: at_risk | breached; target: response | resolution
SOAR_STEP_SECONDS = Histogram(
    "muster_soar_step_seconds",
    "Time to run one playbook step",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_ATTEMPTS = Counter(
    "muster_webhook_attempts", "Webhook delivery attempts", ["result"]
)  # result: delivered | failed | refused
EMAILS = Counter(
    "muster_emails", "E-mails sent and received", ["direction", "result"]
)  # direction: out | in

# Series that exist from the start at 0, so `rate()` and alerts see the first increment.
for _outcome in ("stored", "duplicate"):
    ALERTS_INGESTED.labels(outcome=_outcome)
for _event in ("at_risk", "breached"):
    for _target in ("response", "resolution"):
        SLA_EVENTS.labels(event=_event, target=_target)
for _result in ("delivered", "failed", "refused"):
    WEBHOOK_ATTEMPTS.labels(result=_result)
_STEP_CHILDREN: dict[str, Histogram] = {  # SOAR_STEP_SECONDS per step kind, looked up once
    kind: SOAR_STEP_SECONDS.labels(kind=kind)
    for kind in ("action", "condition", "question", "loop", "playbook", "end")
}

_PENDING = "muster.telemetry.pending"  # session.info key: counts to make when it commits


def count_events(events: Sequence[PublishedEvent], session: Session | None = None) -> None:
    """Count the incidents opened and resolved and the SLA events among published events:
    when `session`'s transaction commits (never if it rolls back), or at once without one."""
    _when_committed(session, partial(_count_events, list(events)))


def count_ingested(stored: int, duplicates: int, session: Session | None = None) -> None:
    """Count an ingest batch, alerts stored and repeats of stored alerts: when `session`'s
    transaction commits (never if it rolls back), or at once for a batch already committed."""
    _when_committed(session, partial(_count_ingested, stored, duplicates))


def observe_step(kind: str, seconds: float) -> None:
    """Record how long one executed playbook step of `kind` took."""
    child = _STEP_CHILDREN.get(kind)
    if child is None:
        child = _STEP_CHILDREN.setdefault(kind, SOAR_STEP_SECONDS.labels(kind=kind))
    child.observe(seconds)


def _when_committed(session: Session | None, count: Callable[[], None]) -> None:
    if session is None:
        count()
    else:
        session.info.setdefault(_PENDING, []).append(count)


def _count_ingested(stored: int, duplicates: int) -> None:
    if stored:
        ALERTS_INGESTED.labels(outcome="stored").inc(stored)
    if duplicates:
        ALERTS_INGESTED.labels(outcome="duplicate").inc(duplicates)


def _count_events(events: Sequence[PublishedEvent]) -> None:
    for published in events:
        for kind in published.types:
            if kind == "incident.created":
                INCIDENTS_OPENED.inc()
            elif kind == "incident.status_changed":
                status = published.row["changes"].get("status")
                if status and status[1] == "RESOLVED":
                    INCIDENTS_RESOLVED.inc()
            elif kind.startswith("sla."):
                target = str(published.row["changes"].get("target", "unknown"))
                SLA_EVENTS.labels(event=kind.removeprefix("sla."), target=target).inc()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT was released: wait for the transaction itself
    for count in session.info.pop(_PENDING, ()):
        count()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
