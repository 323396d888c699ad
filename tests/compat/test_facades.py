"""The compatible APIs as mounted on the real server: their documents, their bare roots and
failures raised before routing, each in its own API's format."""

from __future__ import annotations

import socket

import httpx
import pytest

from muster.config import Settings
from tests.factories import TenantKeys

SENTINEL_INCIDENTS = (
    "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.OperationalInsights"
    "/workspaces/{workspace}/providers/Microsoft.SecurityInsights/incidents"
)


@pytest.mark.parametrize(
    ("root", "route"),
    [
        ("/api/beta/partners", "/incidents"),
        ("/api/v2", "/incidents/across-workspaces"),
        ("/subscriptions", "/{subscription_id}/resourceGroups/"),
    ],
)
def test_each_api_publishes_its_own_openapi_document(
    client: httpx.Client, root: str, route: str
) -> None:
    resp = client.get(f"{root}/openapi.json")
    assert resp.status_code == 200, resp.text
    paths = resp.json()["paths"]
    assert any(path.startswith(route) for path in paths), sorted(paths)
    assert not any(path.startswith("/api/v1/") for path in paths)  # not the native API


def test_the_partner_api_welcome_answers_on_its_bare_path(
    client: httpx.Client, tenant: TenantKeys
) -> None:
    key = tenant.headers()["Authorization"].removeprefix("Bearer ")
    bare = client.get("/api/beta/partners", headers={"x-api-key": key})
    assert bare.status_code == 200, bare.text  # served, not redirected
    assert bare.json()["message"] == "Welcome to the ContraForce API"
    assert client.get("/api/beta/partners").status_code == 401


def test_an_oversized_body_is_refused_in_each_apis_format(
    client: httpx.Client, settings: Settings, tenant: TenantKeys
) -> None:
    too_big = settings.max_body_bytes + 1
    key = tenant.headers()["Authorization"].removeprefix("Bearer ")
    host, port = str(client.base_url).removeprefix("http://").rstrip("/").split(":")

    def declared(path: str, headers: dict[str, str]) -> httpx.Response:
        """Declare an oversized body and send none: the server answers before reading it."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {too_big}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")
        parsed = dict(line.split(": ", 1) for line in header_lines)
        return httpx.Response(int(status_line.split()[1]), headers=parsed, content=body)

    beta = declared(f"/api/beta/partners/incidents?tenantId={tenant.id}", {"x-api-key": key})
    assert beta.status_code == 413
    assert beta.json()["isSuccess"] is False and "exceeds" in beta.json()["message"]

    v2 = declared("/api/v2/incidents/across-workspaces", {})
    assert v2.status_code == 413
    assert v2.headers["content-type"].startswith("application/problem+json")
    assert v2.json()["code"] == "PAYLOAD_TOO_LARGE"

    sentinel = declared(
        SENTINEL_INCIDENTS.format(workspace=tenant.id) + "/x/alerts?api-version=2024-03-01",
        tenant.headers(),
    )
    assert sentinel.status_code == 413
    assert set(sentinel.json()) == {"error"} and "exceeds" in sentinel.json()["error"]["message"]

    native = declared("/api/v1/alerts", tenant.headers())
    assert native.status_code == 413 and native.json()["code"] == "request.too_large"
