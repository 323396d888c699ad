"""Prometheus instruments: counters and histograms this process updates as work happens.

Gauges that describe the database (open incidents, job queue) are read at scrape time by
`muster.api.routes.prometheus`. Counters are per process, as Prometheus expects: with several
API processes or workers, scrape each and sum.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Histogram

from muster.notify.events import PublishedEvent

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


def count_events(events: Sequence[PublishedEvent]) -> None:
    """Count the incidents opened and resolved and the SLA events among published events."""
    for event in events:
        for kind in event.types:
            if kind == "incident.created":
                INCIDENTS_OPENED.inc()
            elif kind == "incident.status_changed":
                status = event.row["changes"].get("status")
                if status and status[1] == "RESOLVED":
                    INCIDENTS_RESOLVED.inc()
            elif kind.startswith("sla."):
                target = str(event.row["changes"].get("target", "unknown"))
                SLA_EVENTS.labels(event=kind.removeprefix("sla."), target=target).inc()
