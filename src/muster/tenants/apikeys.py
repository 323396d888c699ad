"""API keys: minted once, stored as a hash, revocable. Scoped by hand (see `models.apikey`).

Minting and revoking are audited (`apikey.created`, `apikey.revoked`) in the key's tenant, or
in the global log for global keys; the event names the key by id, name, role and prefix,
never by its secret or hash.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.audit import service as audit
from muster.auth.keys import client_credentials, mint_key
from muster.errors import Forbidden, NotFound
from muster.incidents.lifecycle import SYSTEM, Actor
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
    actor: Actor = SYSTEM,
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
    audit.record(
        session, tenant_id, "apikey", key.id, "apikey.created", actor, now, changes=_audited(key)
    )
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
    session: Session,
    key_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
) -> ApiKeyRead:
    """Revoke a key of `tenant_id` (None: a global key); another tenant's key is NotFound."""
    key = session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound("apikey", key_id)
    if key.revoked_at is None:
        key.revoked_at = now
        audit.record(
            session,
            tenant_id,
            "apikey",
            key.id,
            "apikey.revoked",
            actor,
            now,
            changes=_audited(key),
        )
    session.flush()
    return ApiKeyRead.model_validate(key)


def _audited(key: ApiKey) -> dict[str, str | None]:
    """What the audit log shows of a key: never its secret or hash."""
    return {"name": key.name, "role": key.role, "prefix": key.prefix, "createdBy": key.created_by}
