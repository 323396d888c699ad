"""API keys: minted once, stored as a hash, revocable. Scoped by hand (see `models.apikey`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.auth.keys import client_credentials, mint_key
from muster.errors import Forbidden, NotFound
from muster.models import ApiKey
from muster.models.enums import Role
from muster.tenants.schemas import ApiKeyCreated, ApiKeyRead


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    tenant_id: uuid.UUID | None,
    created_by: str | None,
    now: datetime,
) -> ApiKeyCreated:
    """Mint a key for a tenant, or a global one (`tenant_id` None, role global_admin)."""
    if (tenant_id is None) != (role is Role.GLOBAL_ADMIN):
        raise Forbidden(
            "global keys are global_admin keys, and only they are global",
            code="apikey.scope_mismatch",
        )
    minted = mint_key()
    key = ApiKey(
        id=uuid.uuid4(),
        name=name,
        prefix=minted.prefix,
        key_hash=minted.key_hash,
        role=role.value,
        tenant_id=tenant_id,
        created_by=created_by,
        created_at=now,
    )
    session.add(key)
    session.flush()
    client_id, client_secret = client_credentials(minted.plaintext)
    return ApiKeyCreated(
        **ApiKeyRead.model_validate(key).model_dump(),
        key=minted.plaintext,
        client_id=client_id,
        client_secret=client_secret,
    )


def list_keys(session: Session, tenant_id: uuid.UUID | None) -> list[ApiKeyRead]:
    """Keys of one tenant, or the global keys when `tenant_id` is None."""
    stmt = select(ApiKey).order_by(ApiKey.created_at)
    stmt = stmt.where(
        ApiKey.tenant_id.is_(None) if tenant_id is None else ApiKey.tenant_id == tenant_id
    )
    return [ApiKeyRead.model_validate(k) for k in session.scalars(stmt)]


def revoke_key(
    session: Session, key_id: uuid.UUID, tenant_id: uuid.UUID | None, now: datetime
) -> ApiKeyRead:
    """Revoke a key of `tenant_id` (None: a global key); another tenant's key is NotFound."""
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound("apikey", key_id)
    if key.revoked_at is None:
        key.revoked_at = now
    session.flush()
    return ApiKeyRead.model_validate(key)
