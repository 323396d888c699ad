"""The process counters: what a published event counts, and that only committed work counts.

Counters are process-global, so every check compares a value before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from muster import telemetry
from muster.notify.events import PublishedEvent, published


def value(name: str, **labels: str) -> float:
    """The current value of one sample (0 when the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def events(*rows: tuple[str, dict[str, Any]]) -> list[PublishedEvent]:
    """Published events for timeline rows given as (action, changes)."""
    return published([{"action": action, "changes": changes} for action, changes in rows])


OPENED = "muster_incidents_opened_total"
RESOLVED = "muster_incidents_resolved_total"
SLA = "muster_sla_events_total"


class TestCountEvents:
    def test_an_incident_created_counts_as_opened(self) -> None:
        before = value(OPENED)
        telemetry.count_events(events(("incident.created", {}), ("incident.created", {})))
        assert value(OPENED) == before + 2

    def test_only_a_move_into_resolved_counts_as_resolved(self) -> None:
        before = value(RESOLVED)
        telemetry.count_events(
            events(
                ("incident.resolved", {"status": ["UNDER_INVESTIGATION", "RESOLVED"]}),
                ("incident.reopened", {"status": ["RESOLVED", "OPEN"]}),
                ("incident.updated", {"status": ["OPEN", "UNDER_INVESTIGATION"]}),
                ("incident.updated", {"description": ["a", "b"]}),
            )
        )
        assert value(RESOLVED) == before + 1

    def test_sla_events_are_counted_by_event_and_target(self) -> None:
        breached = value(SLA, event="breached", target="resolution")
        at_risk = value(SLA, event="at_risk", target="response")
        telemetry.count_events(
            events(
                ("sla.breached", {"target": "resolution", "dueAt": "2026-01-01T00:00:00Z"}),
                ("sla.at_risk", {"target": "response", "dueAt": "2026-01-01T00:00:00Z"}),
                ("sla.at_risk", {"target": "response", "dueAt": "2026-01-01T00:00:00Z"}),
            )
        )
        assert value(SLA, event="breached", target="resolution") == breached + 1
        assert value(SLA, event="at_risk", target="response") == at_risk + 2

    def test_internal_bookkeeping_counts_nothing(self) -> None:
        before = (value(OPENED), value(RESOLVED))
        telemetry.count_events(events(("alert.grouped", {}), ("soar.step_logged", {})))
        assert (value(OPENED), value(RESOLVED)) == before


class TestCountOnCommit:
    @pytest.fixture()
    def session(self) -> Iterator[Session]:
        engine = create_engine("sqlite://")
        with Session(engine) as session:
            yield session
        engine.dispose()

    def test_counted_when_the_transaction_commits(self, session: Session) -> None:
        before = value(OPENED)
        session.execute(text("select 1"))
        telemetry.count_events(events(("incident.created", {})), session)
        assert value(OPENED) == before
        session.commit()
        assert value(OPENED) == before + 1
        session.commit()  # a later transaction of the same session counts nothing again
        assert value(OPENED) == before + 1

    def test_never_counted_when_it_rolls_back(self, session: Session) -> None:
        before = value(OPENED)
        session.execute(text("select 1"))
        telemetry.count_events(events(("incident.created", {})), session)
        session.rollback()
        session.execute(text("select 1"))
        session.commit()
        assert value(OPENED) == before

    def test_an_ingest_batch_counts_with_its_transaction(self, session: Session) -> None:
        stored = value("muster_alerts_ingested_total", outcome="stored")
        session.execute(text("select 1"))
        telemetry.count_ingested(5, 0, session)
        session.rollback()
        session.execute(text("select 1"))
        telemetry.count_ingested(3, 0, session)
        assert value("muster_alerts_ingested_total", outcome="stored") == stored
        session.commit()
        assert value("muster_alerts_ingested_total", outcome="stored") == stored + 3

    def test_a_released_savepoint_waits_for_the_transaction(self, session: Session) -> None:
        before = value(OPENED)
        session.execute(text("select 1"))
        with session.begin_nested():
            telemetry.count_events(events(("incident.created", {})), session)
        assert value(OPENED) == before
        session.commit()
        assert value(OPENED) == before + 1


class TestIngestAndSteps:
    def test_ingest_counts_stored_and_duplicate_alerts(self) -> None:
        stored = value("muster_alerts_ingested_total", outcome="stored")
        duplicate = value("muster_alerts_ingested_total", outcome="duplicate")
        telemetry.count_ingested(7, 2)
        telemetry.count_ingested(0, 0)
        assert value("muster_alerts_ingested_total", outcome="stored") == stored + 7
        assert value("muster_alerts_ingested_total", outcome="duplicate") == duplicate + 2

    def test_a_step_is_observed_under_its_kind(self) -> None:
        count = value("muster_soar_step_seconds_count", kind="loop")
        total = value("muster_soar_step_seconds_sum", kind="loop")
        fast = value("muster_soar_step_seconds_bucket", kind="loop", le="0.001")
        telemetry.observe_step("loop", 0.0004)
        telemetry.observe_step("loop", 0.3)
        assert value("muster_soar_step_seconds_count", kind="loop") == count + 2
        assert value("muster_soar_step_seconds_sum", kind="loop") == pytest.approx(total + 0.3004)
        assert value("muster_soar_step_seconds_bucket", kind="loop", le="0.001") == fast + 1

    def test_every_step_kind_has_a_series_from_the_start(self) -> None:
        for kind in ("action", "condition", "question", "loop", "playbook", "end"):
            assert (
                REGISTRY.get_sample_value("muster_soar_step_seconds_count", {"kind": kind})
                is not None
            )
