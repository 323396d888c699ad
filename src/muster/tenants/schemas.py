"""Tenant, user and API key API schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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


# e-mail a user can opt out of (docs/email.md); "all" stops every kind
EmailKind = Literal["assignment", "question", "sla", "all"]
EmailOptOut = Annotated[
    list[EmailKind],
    Field(
        max_length=4,
        description='notification e-mail the user does not want: "assignment", "question", '
        '"sla", or "all"',
    ),
]


class UserUpdate(ApiModel):
    name: Name | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    role: Role | None = None
    active: bool | None = None
    password: SecretStr | None = Field(default=None, min_length=12)
    email_opt_out: EmailOptOut | None = None


class NotificationSettings(ApiModel):
    """A user's e-mail notification choices."""

    email_opt_out: EmailOptOut


class UserRead(ReadModel):
    id: uuid.UUID
    email: str
    name: str
    title: str | None
    active: bool
    global_admin: bool
    role: Role | None = Field(None, description="role in the tenant of the request")
    email_opt_out: list[str] = Field(
        default_factory=list, description="notification e-mail the user opted out of"
    )
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
    """The new key; `key` is shown this once and never again. `clientId` and `clientSecret`
    are the same key as an HTTP Basic pair (the ContraForce v2 API)."""

    key: str
    client_id: str
    client_secret: str
