"""SLA services: the tenant's policy, and keeping an incident's SLA columns right as it changes.

A policy change applies to incidents opened (or re-timed) after it: open incidents keep the due
times they were given, and the next change of their severity re-times them from `created_at`
under the policy of the day. The at-risk fraction is read when needed, so a new fraction shows
in states at once; when it is lowered, the tenant's pending checks are pulled forward so no
at-risk event is late.

Services flush, never commit: the request (or job) that called them owns the transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.db.tenancy import tenant_id_of
from muster.errors import NotFound
from muster.incidents.lifecycle import SYSTEM, Actor
from muster.models import Incident, Tenant
from muster.sla import repository
from muster.sla.clock import SlaFacts, SlaState, due_times, next_check_at, overall_state
from muster.sla.policy import SETTINGS_KEY, Policy, SlaPolicyDocument, from_settings

__all__ = [
    "SlaView",
    "delete_policy",
    "get_policy",
    "incident_facts",
    "put_policy",
    "refresh",
    "retime_absorbed",
    "view",
]


@dataclass(frozen=True, slots=True)
class SlaView:
    """SLA states as one request sees them: the tenant's at-risk fraction and the request's
    `now`."""

    fraction: float
    now: datetime

    def state_of(self, incident: Incident) -> SlaState:
        """The incident's overall SLA state."""
        return overall_state(incident_facts(incident), self.fraction, self.now)


def _tenant(session: Session) -> Tenant:
    tenant_id = tenant_id_of(session)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant", tenant_id)
    return tenant


def get_policy(session: Session) -> Policy:
    """The session tenant's effective policy (the default when it has none)."""
    return from_settings(_tenant(session).settings)


def view(session: Session, now: datetime) -> SlaView:
    """How to show SLA states to the session's tenant at `now`."""
    return SlaView(get_policy(session).at_risk_fraction, now)


def put_policy(
    session: Session, document: SlaPolicyDocument, now: datetime, *, actor: Actor = SYSTEM
) -> Policy:
    """Store the tenant's policy (severities left out keep the default targets);
    `sla_policy.updated`."""
    return _store(session, document.stored(), now, actor)


def delete_policy(session: Session, now: datetime, *, actor: Actor = SYSTEM) -> Policy:
    """Go back to the default policy; `sla_policy.reset`."""
    return _store(session, None, now, actor)


def _store(
    session: Session, stored: dict[str, object] | None, now: datetime, actor: Actor
) -> Policy:
    tenant = _tenant(session)
    before = from_settings(tenant.settings)
    stored_before = (tenant.settings or {}).get(SETTINGS_KEY)
    settings = {k: v for k, v in (tenant.settings or {}).items() if k != SETTINGS_KEY}
    if stored is not None:
        settings[SETTINGS_KEY] = stored
    tenant.settings = settings  # a new dict: JSON columns do not track changes in place
    tenant.updated_at = now
    session.flush()
    after = from_settings(settings)
    if after.at_risk_fraction < before.at_risk_fraction:
        repository.pull_forward(session.connection(), tenant.id, now)
    action = "sla_policy.reset" if stored is None else "sla_policy.updated"
    changes = {"policy": [stored_before, stored]}
    audit.record(session, tenant.id, "sla_policy", tenant.id, action, actor, now, changes=changes)
    return after


def incident_facts(incident: Incident) -> SlaFacts:
    """What the incident's SLA depends on."""
    return SlaFacts(
        incident.created_at,
        incident.response_due_at,
        incident.resolution_due_at,
        incident.responded_at,
        incident.resolved_at,
        bool(incident.exclude_from_sla),
        incident.sla_raised or 0,
    )


def refresh(session: Session, incident: Incident, *, retime: bool) -> None:
    """Bring the incident's SLA columns up to date after a change: with `retime` (a new
    incident, or a new severity) both due times are set again from `created_at` under the
    tenant's policy; the next check time always follows."""
    with session.no_autoflush:  # SOAR batches an incident's changes into one UPDATE
        tenant = session.get(Tenant, incident.tenant_id)
    policy = from_settings(tenant.settings if tenant is not None else None)
    if retime:
        due = due_times(incident.created_at, incident.severity, policy)
        incident.response_due_at = due.response_due_at
        incident.resolution_due_at = due.resolution_due_at
    incident.sla_next_at = next_check_at(incident_facts(incident), policy.at_risk_fraction)


def retime_absorbed(session: Session, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]) -> None:
    """Re-time incidents whose severity ingest has just raised (Core: the ingest path)."""
    if not ids:
        return
    connection = session.connection()
    policy = repository.policy(connection, tenant_id)
    updates = []
    for row in repository.facts_of(connection, tenant_id, ids):
        due = due_times(row.created_at, row.severity, policy)
        facts = dataclasses.replace(
            repository.facts(row),
            response_due_at=due.response_due_at,
            resolution_due_at=due.resolution_due_at,
        )
        updates.append(
            {
                "b_id": row.id,
                "b_response": due.response_due_at,
                "b_resolution": due.resolution_due_at,
                "b_next": next_check_at(facts, policy.at_risk_fraction),
            }
        )
    repository.set_times(connection, tenant_id, updates)
