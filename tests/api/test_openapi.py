"""The service's own surface: OpenAPI document, docs page, health."""

from __future__ import annotations

import httpx

NATIVE_ROUTES = {
    ("post", "/api/v1/alerts"),
    ("get", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/{alert_id}"),
    ("post", "/api/v1/alerts/{alert_id}/move"),
    ("post", "/api/v1/incidents"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{incident_id}"),
    ("patch", "/api/v1/incidents/{incident_id}"),
    ("get", "/api/v1/incidents/by-hash/{incident_hash}"),
    ("post", "/api/v1/incidents/{incident_id}/merge"),
    ("get", "/api/v1/incidents/{incident_id}/comments"),
    ("post", "/api/v1/incidents/{incident_id}/comments"),
    ("get", "/api/v1/incidents/{incident_id}/timeline"),
    ("get", "/api/v1/tenants"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/apikeys"),
    ("post", "/api/v1/apikeys"),
    ("get", "/api/v1/grouping-rules"),
    ("post", "/api/v1/grouping-rules"),
}


def test_openapi_lists_the_native_api(client: httpx.Client) -> None:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    spec = resp.json()
    served = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served >= NATIVE_ROUTES, NATIVE_ROUTES - served
    incident = spec["components"]["schemas"]["IncidentRead"]["properties"]
    assert {"excludeFromSLA", "incidentHash", "assigneeName", "alerts"} <= incident.keys()
    body = spec["paths"]["/api/v1/alerts"]["post"]["requestBody"]["content"]
    assert "application/json" in body


def test_docs_and_health_need_no_key(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
