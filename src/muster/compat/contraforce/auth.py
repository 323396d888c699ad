"""Who is calling the ContraForce APIs, and the units of work they act in.

Beta: `x-api-key: <muster API key>`, the tenant named by the `tenantId` query parameter.
v2: HTTP Basic `clientId:clientSecret` (an API key issued as a pair), the tenant named by the
`{workspaceId}` path segment. Any workspace that is not the key's own (for a global key: any
that does not exist), and any write by a viewer key, is 403 INSUFFICIENT_WORKSPACE_ROLE, so
the answer never reveals whether another customer's workspace exists.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from muster.api.deps import Ctx, principal_for, tenant_unit
from muster.auth.keys import key_from_client_credentials
from muster.auth.principal import Principal
from muster.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from muster.models.enums import Role

INSUFFICIENT_ROLE = "INSUFFICIENT_WORKSPACE_ROLE"


async def beta_principal(request: Request, tenant_id: str | None) -> Principal:
    """The caller of a beta route, from `x-api-key`, for acting in `tenant_id`."""
    key = (request.headers.get("x-api-key") or "").strip()
    if not key:
        raise Unauthenticated("send your API key in the x-api-key header")
    return await principal_for(request, key, tenant_id)


def beta_tenant(tenant_id: str | None) -> str:
    """The `tenantId` a tenant route needs: present (400) and a GUID (404 otherwise)."""
    if tenant_id is None or not tenant_id.strip():
        raise InvalidInput.field("tenantId", "is required (the tenant's GUID)")
    try:
        return str(uuid.UUID(tenant_id.strip()))
    except ValueError:
        raise NotFound("tenant", tenant_id) from None


def basic_key(authorization: str | None) -> str:
    """The muster key an `Authorization: Basic base64(clientId:clientSecret)` header carries."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthenticated("send Authorization: Basic base64(clientId:clientSecret)")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("the Basic credentials are not valid base64") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id or not secret:
        raise Unauthenticated("the Basic credentials must be clientId:clientSecret")
    return key_from_client_credentials(client_id, secret)


async def v2_principal(request: Request, workspace_id: str | None = None) -> Principal:
    """The caller of a v2 route (HTTP Basic), for acting in `workspace_id` when given."""
    key = basic_key(request.headers.get("authorization"))
    workspace = _workspace_uuid(workspace_id) if workspace_id is not None else None
    who = await principal_for(request, key, str(workspace) if workspace else None)
    if workspace_id is not None:
        acting = who.acting
        if workspace is None or acting is None or acting.tenant_id != workspace:
            raise Forbidden(
                f"the credential has no role in workspace {workspace_id}", code=INSUFFICIENT_ROLE
            )
    return who


def _workspace_uuid(workspace_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(workspace_id.strip())
    except ValueError:
        return None


def require_writer(who: Principal) -> None:
    """A viewer key may read a workspace but not change it (403 INSUFFICIENT_WORKSPACE_ROLE)."""
    if who.role.rank < Role.ANALYST.rank:
        raise Forbidden(
            "the credential's role in this workspace is read-only", code=INSUFFICIENT_ROLE
        )


@contextmanager
def workspace_unit(
    request: Request, who: Principal, workspace_id: str, *, write: bool
) -> Iterator[Ctx]:
    """The request's unit of work in a workspace `v2_principal` admitted (commits on exit)."""
    if write:
        require_writer(who)
    role = Role.ANALYST if write else Role.VIEWER
    workspace = str(_workspace_uuid(workspace_id) or workspace_id.strip())
    with tenant_unit(request, who, workspace, role, write=write) as ctx:
        yield ctx
