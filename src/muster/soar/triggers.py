"""Starting playbooks when something happens: an incident is created (ingest or by hand).

The tenant's enabled playbooks for the trigger are tried by weight, highest first; the first
whose criteria match the incident runs (`muster.playbooks.selection`). The decision and its
reason go on the incident's timeline either way, once the tenant has such playbooks at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.incidents.lifecycle import SOAR
from muster.incidents.timeline import record
from muster.models import Incident, Playbook
from muster.playbooks import selection
from muster.playbooks.service import enabled_for_trigger
from muster.soar.service import create_process_for
from muster.soar.views import IncidentView


def on_incidents_created(
    session: Session, incident_ids: Collection[uuid.UUID], now: datetime
) -> int:
    """Select and queue a playbook run for each new incident; return how many were queued."""
    if not incident_ids:
        return 0

    playbooks = enabled_for_trigger(session, "incident", now)
    if not playbooks:
        return 0
    by_id: dict[uuid.UUID, Playbook] = {playbook.id: playbook for playbook, _ in playbooks}
    candidates = [
        (playbook.name, playbook.weight, predicate, playbook.id)
        for playbook, predicate in playbooks
    ]
    wants_alerts = any("alerts." in (playbook.criteria or "") for playbook, _ in playbooks)
    started = 0
    incidents = session.scalars(select(Incident).where(Incident.id.in_(list(incident_ids))))
    for incident in incidents:
        view = IncidentView(session, incident).for_condition({}, wants_alerts)
        chosen = selection.select(candidates, view, now)
        if chosen.playbook_id is None:
            record(session, incident.id, "soar.not_selected", SOAR, now, reason=chosen.reason)
            continue
        create_process_for(
            session,
            incident,
            by_id[chosen.playbook_id],
            trigger="incident",
            started_by="incident created",
            now=now,
            reason=chosen.reason,
        )
        started += 1
    return started
