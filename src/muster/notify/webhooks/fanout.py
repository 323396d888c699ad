"""Turn published events into webhook deliveries for the subscriptions that want them.

`enqueue_webhooks` runs inside the transaction that writes the timeline (every ingest batch
included), so for a tenant without subscriptions it must cost nothing: each process keeps the
tenant's enabled subscriptions for `CACHE_SECONDS` and forgets them at once when this process
changes them (`forget_on_commit`). Another process sees a change within `CACHE_SECONDS`: events
raised by it in that window follow the old subscription set (a new subscription misses them,
a deleted one's deliveries are dropped by the worker, a disabled one's are marked failed).

Events of tenants with subscriptions are collected and fanned out when the transaction commits
(`before_commit`), so a body shows what the whole transaction wrote. For each (event, type,
subscription wanting the type) a `WebhookDelivery` row is written with its body frozen
(`muster.notify.webhooks.payloads`), and a `webhook.deliver` job for its first attempt. The
incidents of the batch are read in one query, only when some subscription matched.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.orm import Session

from muster.ids import new_id
from muster.notify.events import PublishedEvent
from muster.notify.webhooks import payloads, repository
from muster.notify.webhooks.repository import TenantSubscribers
from muster.worker.jobs import enqueue, enqueue_fresh

__all__ = [
    "CACHE_SECONDS",
    "DELIVER",
    "enqueue_attempt",
    "enqueue_webhooks",
    "forget_on_commit",
    "subscribers",
]

DELIVER = "webhook.deliver"
CACHE_SECONDS = 1.0
CF_ALERTS_PER_INCIDENT = 20
# session.info keys: tenants whose subscriptions changed; events waiting for the commit;
# whether the commit has begun (events published then are fanned out at once)
_CHANGED = "muster.webhooks.changed"
_PENDING = "muster.webhooks.pending"
_COMMITTING = "muster.webhooks.committing"


class SubscriberCache:
    """Each tenant's enabled subscriptions, kept `ttl` seconds per process."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[uuid.UUID, tuple[float, TenantSubscribers]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, tenant_id: uuid.UUID) -> TenantSubscribers:
        """The tenant's subscribers, from the cache or (when stale) the database."""
        entry = self._entries.get(tenant_id)
        clock = time.monotonic()
        if entry is not None and entry[0] > clock:
            return entry[1]
        found = repository.load_subscribers(session, tenant_id)
        with self._lock:
            self._entries[tenant_id] = (clock + self.ttl, found)
        return found

    def forget(self, tenant_id: uuid.UUID) -> None:
        """Drop the tenant's entry: the next event reads the database."""
        with self._lock:
            self._entries.pop(tenant_id, None)


_cache = SubscriberCache(CACHE_SECONDS)


def subscribers(session: Session, tenant_id: uuid.UUID) -> TenantSubscribers:
    """The tenant's enabled subscriptions as the fan-out sees them (cached)."""
    return _cache.get(session, tenant_id)


def forget_on_commit(session: Session, tenant_id: uuid.UUID) -> None:
    """The tenant's subscriptions change in this transaction: forget the cached set now and
    again when it commits (so a read in between cannot keep the old set)."""
    _cache.forget(tenant_id)
    session.info.setdefault(_CHANGED, set()).add(tenant_id)


@event.listens_for(Session, "before_commit")
def _fan_out_at_commit(session: Session) -> None:
    """Write the deliveries of the events collected in the transaction; events published from
    here on (by other commit hooks) are fanned out at once."""
    session.info[_COMMITTING] = True
    pending: list[PublishedEvent] | None = session.info.pop(_PENDING, None)
    if pending:
        _fan_out_now(session, pending)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _reset(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    _reset(session)


def _reset(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTING, None)
    for tenant_id in session.info.pop(_CHANGED, ()):
        _cache.forget(tenant_id)


def enqueue_webhooks(session: Session, events: Sequence[PublishedEvent]) -> None:
    """Write a delivery and its job for each subscription of the events' tenant that wants one,
    when the transaction commits (so a delivery sees the data the whole transaction wrote: an
    ingest batch inserts its alerts after the events that opened their incidents)."""
    if session.info.get(_COMMITTING):
        _fan_out_now(session, events)
        return
    tenants = {published.row["tenant_id"] for published in events}
    listening = {t for t in tenants if _cache.get(session, t).subscribers}
    if listening:
        wanted = [e for e in events if e.row["tenant_id"] in listening]
        session.info.setdefault(_PENDING, []).extend(wanted)


def _fan_out_now(session: Session, events: Sequence[PublishedEvent]) -> None:
    by_tenant: dict[uuid.UUID, list[PublishedEvent]] = defaultdict(list)
    for published in events:
        by_tenant[published.row["tenant_id"]].append(published)
    for tenant_id, tenant_events in by_tenant.items():
        found = _cache.get(session, tenant_id)
        if found.subscribers:
            _fan_out(session, tenant_id, found, tenant_events)


def _fan_out(
    session: Session,
    tenant_id: uuid.UUID,
    found: TenantSubscribers,
    events: Sequence[PublishedEvent],
) -> None:
    matches = [
        (published.row, kind, sub)
        for published in events
        for kind in published.types
        for sub in found.subscribers
        if sub.wants(kind)
    ]
    if not matches:
        return
    subject_ids = {row["subject_id"] for row, _, _ in matches if row["subject_type"] == "incident"}
    session.flush()  # the session does not autoflush: make the transaction's changes visible
    facts = repository.incident_facts(session, tenant_id, subject_ids)
    alerts: Mapping[uuid.UUID, list[Mapping[str, Any]]] = {}
    if any(sub.style == "contraforce" for _, _, sub in matches):
        alerts = repository.recent_alerts(session, tenant_id, facts, CF_ALERTS_PER_INCIDENT)
    tenant = (tenant_id, found.tenant_name)
    views = {ident: payloads.incident_view(f) for ident, f in facts.items()}
    rows: list[dict[str, Any]] = []
    for row, kind, sub in matches:
        incident_id = row["subject_id"]
        body = payloads.standard_payload(kind, row, tenant, views.get(incident_id))
        if sub.style == "contraforce":
            body = payloads.contraforce_envelope(body, alerts.get(incident_id, ()))
        rows.append(delivery_row(tenant_id, sub.id, kind, body, row["created_at"]))
    repository.insert_deliveries(session, rows)
    for at, due in itertools.groupby(sorted(rows, key=_created), key=_created):
        first_attempts = [
            ({"deliveryId": str(d["id"]), "attempt": 1}, tenant_id, _dedup_key(d["id"], 1))
            for d in due
        ]  # fresh delivery ids: their dedup keys cannot exist yet
        enqueue_fresh(session, DELIVER, first_attempts, run_at=at, now=at)


def _created(delivery: Mapping[str, Any]) -> datetime:
    return cast(datetime, delivery["created_at"])


def delivery_row(
    tenant_id: uuid.UUID,
    subscription_id: uuid.UUID,
    event_type: str,
    body: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A pending delivery of `body`, ready for a bulk insert."""
    event_ident = body["id"] if "id" in body else body["data"]["eventId"]
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "subscription_id": subscription_id,
        "event_id": uuid.UUID(str(event_ident)),
        "event_type": event_type,
        "payload": body,
        "state": "pending",
        "attempts": 0,
        "last_status_code": None,
        "last_error": None,
        "log": [],
        "created_at": now,
        "delivered_at": None,
    }


def enqueue_attempt(
    session: Session,
    delivery_id: uuid.UUID,
    tenant_id: uuid.UUID,
    attempt: int,
    run_at: datetime,
    *,
    now: datetime,
) -> None:
    """Queue attempt number `attempt` of a delivery at `run_at` (once: keyed by both)."""
    enqueue(
        session,
        DELIVER,
        {"deliveryId": str(delivery_id), "attempt": attempt},
        run_at=run_at,
        tenant_id=tenant_id,
        dedup_key=_dedup_key(delivery_id, attempt),
        now=now,
    )


def _dedup_key(delivery_id: uuid.UUID, attempt: int) -> str:
    return f"{DELIVER}:{delivery_id}:{attempt}"
