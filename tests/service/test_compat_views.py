"""`muster.compat.views` against the real database: what the facades show beside incidents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.factories import TenantKeys, alert, make_tenant

from muster.alerts.ingest import ingest
from muster.compat import views
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database
from muster.errors import InvalidInput, NotFound
from muster.incidents.comments import add_comment
from muster.incidents.lifecycle import Actor
from muster.incidents.listing import IncidentFilter
from muster.incidents.service import change_incident, merge_incidents
from muster.models import Incident, User
from muster.models.enums import SOAR_ASSIGNEE

# in the future: the shared server's SLA scan leaves these incidents alone
T0 = datetime(2032, 5, 1, 9, 0, tzinfo=UTC)
PERSON = Actor("user", "someone@example.test", "Some One")


def _open_incident(db: Database, tenant: TenantKeys, host: str) -> uuid.UUID:
    """Three alerts on one host from two products, merged into one incident."""
    alerts = [
        alert(
            hostname=host,
            username=None,
            srcIp=None,
            source=source,
            ruleName=rule,
            mitreTactic=tactic,
            createdAt=(T0 + timedelta(minutes=n)).isoformat(),
        )
        for n, (source, rule, tactic) in enumerate(
            [
                ("Wazuh", "sshd brute force", "Credential Access"),
                ("Wazuh", "sshd brute force", "Credential Access"),
                ("Suricata", "ET SCAN", "Discovery"),
            ]
        )
    ]
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        report = ingest(session, alerts, PERSON, T0 + timedelta(minutes=5))
        first, *others = dict.fromkeys(i.incident_id for i in report.items if i.incident_id)
        if others:
            merge_incidents(session, first, others, PERSON, T0 + timedelta(minutes=6))
    return first


def test_a_view_carries_alert_facts_comments_and_the_assignees_user_id(
    db: Database, tenant: TenantKeys
) -> None:
    incident_id = _open_incident(db, tenant, "web-01.corp.example")
    with unit_of_work(db, TenantContext(tenant.id), write=True) as session:
        add_comment(session, incident_id, "first look", PERSON, T0 + timedelta(hours=1))
        add_comment(session, incident_id, "containment done", PERSON, T0 + timedelta(hours=2))
        change_incident(
            session, incident_id, {"assignee": tenant.member_email}, PERSON, T0 + timedelta(hours=3)
        )
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        view = views.incident_view(session, incident_id)
        member_id = session.scalar(select(User.id).where(User.email == tenant.member_email))
    assert view.products == ["Wazuh", "Suricata"]
    assert view.tactics == ["Credential Access", "Discovery"]
    assert view.rule_names == ["sshd brute force", "ET SCAN"]
    assert view.alerts_count == 3
    assert (view.last_comment, view.comments_count) == ("containment done", 2)
    assert view.assignee == tenant.member_email and view.assignee_user_id == member_id
    assert view.tenant_name == tenant.name
    assert view.first_activity_at == T0 and view.last_activity_at == T0 + timedelta(minutes=2)


def test_entities_and_evidence_come_from_the_incidents_alerts(
    db: Database, tenant: TenantKeys
) -> None:
    incident_id = _open_incident(db, tenant, "db-07.corp.example")
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        entities = views.incident_entities(session, incident_id)
        evidence = views.incident_evidence(session, incident_id)
    hosts = [e for e in entities if e.kind == "Host"]
    assert [h.properties["hostName"] for h in hosts] == ["db-07"]
    assert len(hosts[0].alert_ids) == 3
    assert len(evidence.rows) == 3
    assert "ruleName" in evidence.columns
    rules = [row[evidence.columns.index("ruleName")] for row in evidence.rows]
    assert rules == ["sshd brute force", "sshd brute force", "ET SCAN"]


def test_another_tenants_incident_is_not_found(db: Database, tenant: TenantKeys) -> None:
    incident_id = _open_incident(db, tenant, "app-3.corp.example")
    stranger = make_tenant(db)
    with unit_of_work(db, TenantContext(stranger.id)) as session:
        for load in (views.incident_view, views.incident_entities, views.incident_evidence):
            try:
                load(session, incident_id)
            except NotFound:
                continue
            raise AssertionError(f"{load.__name__} showed another tenant's incident")
    try:
        views.parse_incident_id("not-a-uuid")
    except NotFound:
        pass
    else:
        raise AssertionError("a malformed id must name nothing")


def test_a_system_session_lists_only_the_tenants_it_is_asked_for(
    db: Database, tenant: TenantKeys
) -> None:
    mine = _open_incident(db, tenant, "fs-1.corp.example")
    other = make_tenant(db)
    theirs = _open_incident(db, other, "fs-2.corp.example")
    flt = IncidentFilter(status=("OPEN",), tenant_ids=(tenant.id, other.id))
    with unit_of_work(db, SystemContext()) as session:
        page, cursor = views.list_views(session, flt, "-createdAt", 1, None)
        rest, end = views.list_views(session, flt, "-createdAt", 5, cursor)
        total = views.count_views(session, flt)
        only_mine = views.count_views(
            session, IncidentFilter(status=("OPEN",), tenant_ids=(tenant.id,))
        )
    assert {v.id for v in page + rest} == {mine, theirs} and end is None
    assert {v.tenant_name for v in page + rest} == {tenant.name, other.name}
    assert (total, only_mine) == (2, 1)


def test_assignees_are_named_by_user_id_email_or_soar(db: Database, tenant: TenantKeys) -> None:
    with unit_of_work(db, TenantContext(tenant.id)) as session:
        member_id = session.scalar(select(User.id).where(User.email == tenant.member_email))
        assert views.assignee_for(session, user_id=str(member_id)) == tenant.member_email
        assert views.assignee_for(session, email=tenant.member_email.upper()) == (
            tenant.member_email
        )
        assert views.assignee_for(session, name="soar") == SOAR_ASSIGNEE
        assert views.assignee_for(session) is None
        assert views.member_ref(session, tenant.member_email) == (member_id, tenant.member_name)
        for bad in ({"user_id": str(uuid.uuid4())}, {"email": "nobody@example.test"}):
            try:
                views.assignee_for(session, field="user", **bad)
            except InvalidInput as exc:
                assert exc.errors[0]["field"] == "user"
            else:
                raise AssertionError(f"{bad} is not a member")
        assert session.scalar(select(Incident.id).limit(0)) is None
