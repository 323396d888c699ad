"""What the incident page shows, gathered through the services in the page's unit of work.

A fixed number of queries per page (the incident, its alerts, comments, timeline, the names of
the people on the timeline, the tenant's members, the SOAR run, its playbook and step log),
whatever the size of the incident; the display values come from `views_incident`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from muster.compat.entities import entities_of
from muster.incidents import comments as notes
from muster.incidents import service
from muster.incidents.schemas import IncidentListItem
from muster.incidents.timeline import timeline
from muster.models import Playbook, Tenant, User
from muster.models.enums import IncidentStatus, Resolution
from muster.sla.service import view as sla_view
from muster.soar import service as soar
from muster.tenants.users import members
from muster.web.deps import WebCtx
from muster.web.views_incident import (
    entity_rows,
    mitre,
    resolution_reasons,
    seed_fields,
    soar_panel,
    timeline_rows,
)
from muster.web.views_queue import SEVERITY_NAMES, countdown_text, next_due


def _people(ctx: WebCtx, actor_ids: set[str]) -> dict[str, str]:
    """`user:<id>` -> name for the users among the timeline's actors (one query)."""
    ids = []
    for actor in actor_ids:
        kind, _, ident = actor.partition(":")
        if kind == "user":
            try:
                ids.append(uuid.UUID(ident))
            except ValueError:
                continue
    if not ids:
        return {}
    rows = ctx.session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {f"user:{row.id}": row.name for row in rows}


def incident_context(ctx: WebCtx, incident_id: uuid.UUID) -> dict[str, Any]:
    """Everything the incident template needs."""
    incident = service.get_incident(ctx.session, incident_id)
    item = IncidentListItem.of(incident, sla_view(ctx.session, ctx.now))
    tenant = ctx.session.get(Tenant, incident.tenant_id)
    alerts = service.alerts_of(ctx.session, incident.id)
    process = soar.current_process(ctx.session, incident)
    values = item.model_dump(by_alias=True)
    values["alerts"] = len(alerts)
    values["tenant"] = tenant.name if tenant else None
    values["soarProcess"] = (
        f"{process.status} ({process.process_hash})" if process is not None else None
    )
    events = timeline(ctx.session, incident.id)
    panel = None
    if process is not None:
        playbook = ctx.session.get(Playbook, process.playbook_id)
        panel = soar_panel(
            process,
            playbook.name if playbook else str(process.playbook_id),
            soar.step_log(ctx.session, process.id),
            incident.soar_timeout,
            ctx.now,
        )
    due = next_due(item)
    return {
        "incident": item,
        "severity_name": SEVERITY_NAMES.get(item.severity, str(item.severity)),
        "sla_due_at": due if item.sla_state in ("ok", "at_risk", "breached") else None,
        "sla_text": countdown_text(due, ctx.now)
        if item.sla_state in ("ok", "at_risk", "breached")
        else "",
        "fields": seed_fields(values),
        "mitre": mitre(item.mitre_tactic, item.mitre_technique),
        "alerts": alerts,
        "entities": entity_rows(entities_of(incident.id, alerts)),
        "timeline": timeline_rows(events, _people(ctx, {e.actor for e in events})),
        "comments": notes.list_comments(ctx.session, incident.id),
        "soar": panel,
        "members": members(ctx.session),
        "statuses": [IncidentStatus.OPEN, IncidentStatus.UNDER_INVESTIGATION],
        "resolutions": list(Resolution),
        "reasons": resolution_reasons(),
    }
