"""The official Sentinel client (`azure-mgmt-securityinsight`) pointed at the test server.

The credential hands out a muster API key as the bearer token; the loopback server speaks
plain http, so the client's own ARM authentication policy runs with `enforce_https` off.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from azure.core.credentials import AccessToken
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.securityinsight import SecurityInsights

from muster.models.enums import Role
from tests.factories import TenantKeys

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "soc-rg"
API_VERSION = "2021-10-01"  # what SDK 1.0.0 sends
SCOPE = "https://management.azure.com/.default"


class MusterKeyCredential:
    """A TokenCredential whose token is a muster API key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The key as an access token valid for an hour."""
        self.scopes.append(scopes)
        return AccessToken(self.key, int(time.time()) + 3600)


class LoopbackAuthPolicy(ARMChallengeAuthenticationPolicy):
    """The SDK's own ARM bearer policy, allowed over plain http (the loopback test server)."""

    def on_request(self, request: Any) -> None:
        request.context.options["enforce_https"] = False
        super().on_request(request)


def sentinel_client(base_url: str, key: str) -> SecurityInsights:
    """A SecurityInsights client for the test server, authenticating with `key`, no retries."""
    credential = MusterKeyCredential(key)
    return SecurityInsights(
        credential,  # type: ignore[arg-type]
        SUBSCRIPTION,
        base_url=base_url,
        authentication_policy=LoopbackAuthPolicy(credential, SCOPE),  # type: ignore[arg-type]
        retry_total=0,
    )


def workspace(tenant: TenantKeys | uuid.UUID) -> str:
    """The workspace name of a tenant: its id."""
    return str(tenant.id if isinstance(tenant, TenantKeys) else tenant)


def prefix(tenant: TenantKeys | uuid.UUID) -> str:
    """The ARM path of a tenant's SecurityInsights provider."""
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.OperationalInsights/workspaces/{workspace(tenant)}/providers/"
        "Microsoft.SecurityInsights"
    )


def raw_call(
    client: httpx.Client,
    method: str,
    path: str,
    tenant: TenantKeys,
    *,
    role: Role = Role.ANALYST,
    api_version: str | None = API_VERSION,
    **kwargs: Any,
) -> httpx.Response:
    """A plain HTTP call under a tenant's prefix (for answers the SDK hides)."""
    params = dict(kwargs.pop("params", {}))
    if api_version is not None:
        params["api-version"] = api_version
    headers = {**tenant.headers(role), **kwargs.pop("headers", {})}
    return client.request(method, prefix(tenant) + path, params=params, headers=headers, **kwargs)


def assert_cloud_error(resp: httpx.Response, status: int, code: str) -> str:
    """Check a CloudError answer `{error: {code, message}}`; return its message."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message, body
    return str(message)
