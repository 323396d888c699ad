"""The incident list's `slaState=` filter (SQL, `muster.sla.conditions`) agrees with the pure
clock (`muster.sla.clock.overall_state`) on every combination of facts, at the boundaries."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from tests.factories import TenantKeys

from muster.db import TenantContext, unit_of_work
from muster.db.engine import Database
from muster.incidents.listing import IncidentFilter, list_incidents
from muster.models import Incident
from muster.sla import service as sla
from muster.sla.clock import EARLIEST_BREACH, SlaState, overall_state
from muster.sla.policy import SlaPolicyDocument

T0 = datetime(2029, 6, 1, 8, 0, tzinfo=UTC)
S = timedelta(seconds=1)
FRACTION = 0.6
RESPONSE, RESOLUTION = 100 * S, 1000 * S  # at risk from 60 s and 600 s
# achievement offsets: never, early, exactly on time, late
RESPONDED = [None, 30 * S, RESPONSE, 150 * S]
RESOLVED = [None, 50 * S, RESOLUTION, 1500 * S]
NOWS = [
    T0,
    T0 + 59 * S,
    T0 + 60 * S,  # response at risk, exactly
    T0 + RESPONSE,  # due: not yet breached
    T0 + RESPONSE + EARLIEST_BREACH,
    T0 + 700 * S,
    T0 + RESOLUTION + EARLIEST_BREACH,
    T0 + 5000 * S,
]


@pytest.fixture()
def incidents(db: Database, tenant: TenantKeys) -> Iterator[list[Incident]]:
    """Every combination of (due times or none, responded, resolved, excluded), at T0."""
    made = []
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        doc = SlaPolicyDocument.model_validate({"atRiskFraction": FRACTION})
        sla.put_policy(session, doc, T0)
        combos = itertools.product((True, False), RESPONDED, RESOLVED, (False, True))
        for number, (timed, responded, resolved, excluded) in enumerate(combos, 1):
            if responded is not None and resolved is not None and resolved < responded:
                continue  # respondedAt never follows resolvedAt
            incident = Incident(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                number=number,
                incident_hash=uuid.uuid4().hex[:16].upper(),
                description=f"case {number}",
                severity=3,
                source="tests",
                status="RESOLVED" if resolved is not None else "OPEN",
                resolution="TRUE_POSITIVE" if resolved is not None else None,
                exclude_from_sla=excluded,
                responded_at=None if responded is None else T0 + responded,
                resolved_at=None if resolved is None else T0 + resolved,
                response_due_at=T0 + RESPONSE if timed else None,
                resolution_due_at=T0 + RESOLUTION if timed else None,
                created_at=T0,
                updated_at=T0,
            )
            session.add(incident)
            made.append(incident)
        session.flush()
        for incident in made:
            session.expunge(incident)
    yield made


@pytest.mark.parametrize("now", NOWS, ids=lambda now: f"T0+{(now - T0).total_seconds():g}s")
def test_each_state_filter_lists_exactly_the_incidents_in_that_state(
    db: Database, tenant: TenantKeys, incidents: list[Incident], now: datetime
) -> None:
    expected: dict[SlaState, set[uuid.UUID]] = {state: set() for state in SlaState}
    for incident in incidents:
        expected[overall_state(sla.incident_facts(incident), FRACTION, now)].add(incident.id)
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        for state in SlaState:
            found, cursor = list_incidents(
                session, IncidentFilter(sla_state=state, now=now), "-createdAt", 500, None
            )
            assert cursor is None
            assert {i.id for i in found} == expected[state], state
    assert sum(len(ids) for ids in expected.values()) == len(incidents)
    assert expected[SlaState.EXCLUDED] and expected[SlaState.BREACHED]


def test_the_filter_combines_with_the_others(
    db: Database, tenant: TenantKeys, incidents: list[Incident]
) -> None:
    now = T0 + 700 * S
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        found, _ = list_incidents(
            session,
            IncidentFilter(status=("OPEN",), sla_state=SlaState.AT_RISK, now=now),
            "-createdAt",
            500,
            None,
        )
    assert found
    for incident in found:
        assert incident.status == "OPEN"
        assert overall_state(sla.incident_facts(incident), FRACTION, now) is SlaState.AT_RISK
