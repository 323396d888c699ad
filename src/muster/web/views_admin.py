"""Admin forms as the services take them (pure): a new member, a role, an API key, a tenant.
Pydantic validates each (a bad field is a 400 page naming it)."""

from __future__ import annotations

from muster.models.enums import Role
from muster.tenants.schemas import ApiKeyCreate, TenantCreate, UserCreate, UserUpdate
from muster.web.security import Form

MEMBER_ROLES = (Role.VIEWER, Role.ANALYST, Role.TENANT_ADMIN)


def member_create(form: Form) -> UserCreate:
    """A new member with a password (the login is created when the e-mail is new)."""
    body: dict[str, object] = {
        "email": form.get("email").strip(),
        "name": form.get("name").strip(),
        "role": form.get("role") or Role.ANALYST.value,
    }
    if form.get("password"):
        body["password"] = form.get("password")
    return UserCreate.model_validate(body)


def role_change(form: Form) -> UserUpdate:
    """A member's new role."""
    return UserUpdate.model_validate({"role": form.get("role")})


def key_create(form: Form, tenant_scoped: bool) -> ApiKeyCreate:
    """A key to mint; a global key (no tenant) is always a global_admin key."""
    role = form.get("role") or Role.ANALYST.value
    if not tenant_scoped:
        role = Role.GLOBAL_ADMIN.value
    return ApiKeyCreate.model_validate({"name": form.get("name").strip(), "role": role})


def tenant_create(form: Form) -> TenantCreate:
    """A new tenant by name."""
    return TenantCreate.model_validate({"name": form.get("name").strip()})
