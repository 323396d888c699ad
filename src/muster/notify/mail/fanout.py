"""Turn published events into e-mail jobs (assignment, SOAR questions, SLA breaches)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from muster.notify.events import PublishedEvent


def enqueue_mail(session: Session, events: Sequence[PublishedEvent]) -> None:
    """Queue one e-mail job per event that notifies people."""
