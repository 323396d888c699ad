"""Fixtures of the ContraForce facade tests: clients for a tenant's keys, incidents made by
ingesting alerts through the native API."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from muster.models.enums import Role
from tests.api.apicalls import post_alerts
from tests.compat.contraforce.cfclient import ContraForceClient, PartnerClient
from tests.factories import TenantKeys, alert

MakeV2 = Callable[[str], ContraForceClient]
MakeBeta = Callable[[str], PartnerClient]


@pytest.fixture()
def v2(base_url: str) -> Iterator[MakeV2]:
    """`v2(api_key)` -> a v2 client for that key (closed after the test)."""
    made: list[ContraForceClient] = []

    def make(key: str) -> ContraForceClient:
        made.append(ContraForceClient(base_url, key))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture()
def beta(base_url: str) -> Iterator[MakeBeta]:
    """`beta(api_key)` -> a partner-API client for that key."""
    made: list[PartnerClient] = []

    def make(key: str) -> PartnerClient:
        made.append(PartnerClient(base_url, key))
        return made[-1]

    yield make
    for c in made:
        c.close()


def distinct_alert(**over: Any) -> dict[str, Any]:
    """An alert that opens its own incident (unique rule and host)."""
    tag = uuid.uuid4().hex[:8]
    return alert(ruleName=f"rule {tag}", hostname=f"host-{tag}.corp.example", **over)


def make_incidents(
    client: httpx.Client, tenant: TenantKeys, count: int, **over: Any
) -> list[dict[str, Any]]:
    """Ingest `count` alerts that each open an incident; their answer items, in order."""
    items = post_alerts(client, tenant, *(distinct_alert(**over) for _ in range(count)), batch=True)
    found: list[dict[str, Any]] = items["items"]
    assert len({i["incidentId"] for i in found}) == count
    return found


def incident_id(client: httpx.Client, tenant: TenantKeys, **over: Any) -> str:
    """One new incident's id."""
    return str(make_incidents(client, tenant, 1, **over)[0]["incidentId"])


def native(client: httpx.Client, tenant: TenantKeys, ident: str) -> dict[str, Any]:
    """The incident through the native API."""
    resp = client.get(f"/api/v1/incidents/{ident}", headers=tenant.headers(Role.VIEWER))
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data
