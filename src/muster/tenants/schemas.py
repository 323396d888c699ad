"""Tenant, user and API key API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, SecretStr

from muster.models.enums import Role
from muster.schema_base import ApiModel, Email, Name, ReadModel, Text


class TenantFlags(ApiModel):
    """`suspended` holds the reason; `eval` the evaluation's expiry."""

    suspended: Text | None = None
    eval: datetime | None = None
    demo: bool = False
    dev: bool = False


class TenantCreate(ApiModel):
    name: Name
    flags: TenantFlags = TenantFlags()
    settings: dict[str, Any] = {}


class TenantUpdate(ApiModel):
    name: Name | None = None
    flags: TenantFlags | None = None
    settings: dict[str, Any] | None = None


class TenantRead(ReadModel):
    id: uuid.UUID
    name: str
    flags: TenantFlags
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class UserCreate(ApiModel):
    """A user and, unless global, their role in the caller's tenant."""

    email: Email
    name: Name
    title: Annotated[str, Field(max_length=200)] | None = None
    role: Role = Role.ANALYST
    password: SecretStr | None = Field(default=None, min_length=12)


class UserUpdate(ApiModel):
    name: Name | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    role: Role | None = None
    active: bool | None = None
    password: SecretStr | None = Field(default=None, min_length=12)


class UserRead(ReadModel):
    id: uuid.UUID
    email: str
    name: str
    title: str | None
    active: bool
    global_admin: bool
    role: Role | None = Field(None, description="role in the tenant of the request")
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(ApiModel):
    name: Name
    role: Role = Role.ANALYST


class ApiKeyRead(ReadModel):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    tenant_id: uuid.UUID | None
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The new key; `key` is shown this once and never again."""

    key: str
