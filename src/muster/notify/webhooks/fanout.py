"""Turn published events into webhook deliveries for the subscriptions that want them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from muster.notify.events import PublishedEvent


def enqueue_webhooks(session: Session, events: Sequence[PublishedEvent]) -> None:
    """Write a delivery and its job for each subscription of the events' tenant that wants one."""
