"""Who is calling, what they may do, and which tenant they act in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from muster.errors import Forbidden
from muster.incidents.lifecycle import Actor
from muster.models.enums import Role


@dataclass(frozen=True, slots=True)
class TenantState:
    """The tenant a request acts in, and whether it is open (suspension, evaluation expiry)."""

    suspended: str | None
    eval_expires_at: datetime | None
    tenant_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an API key with a role, one tenant or global.

    `acting` is the tenant the request acts in (the key's own, or the one a global key
    named), read in the same lookup as the key; None when a global key named none.
    """

    key_id: uuid.UUID
    name: str
    role: Role
    tenant_id: uuid.UUID | None
    acting: TenantState | None = None

    @property
    def is_global(self) -> bool:
        """True for the MSSP's global administrators."""
        return self.role is Role.GLOBAL_ADMIN

    @property
    def actor(self) -> Actor:
        """The principal as it appears on timelines."""
        return Actor("apikey", f"apikey:{self.key_id}", f"API key {self.name}")

    def require(self, role: Role) -> None:
        """Raise `Forbidden` unless the principal holds `role` or a stronger one."""
        if self.role.rank < role.rank:
            raise Forbidden(f"this action needs the {role.value} role", code="auth.role_required")
