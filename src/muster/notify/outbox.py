"""The outbox: timeline rows become webhook deliveries, e-mail jobs and counters, in the
transaction that wrote them (so nothing is announced that did not happen, and nothing that
happened goes unannounced)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from muster import telemetry
from muster.notify.events import published
from muster.notify.mail.fanout import enqueue_mail
from muster.notify.webhooks.fanout import enqueue_webhooks


def publish(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Announce the timeline rows being written in this transaction."""
    events = published(rows)
    if not events:
        return
    telemetry.count_events(events, session)
    enqueue_webhooks(session, events)
    enqueue_mail(session, events)
