"""Who may do what on the console's management pages (pure: no database, HTTP or clock).

Reading follows the API (viewers read playbooks, grouping rules and SLA figures; webhooks need
an analyst because deliveries carry incident data); every change on these pages needs the
tenant_admin role, like the API's admin routes, and a tenant chosen (not the all-tenants view).
"""

from __future__ import annotations

import uuid

from muster.errors import Forbidden
from muster.models.enums import Role
from muster.web.deps import Viewer


def chosen_tenant(tenant_id: uuid.UUID | None, what: str) -> uuid.UUID:
    """The acting tenant, or `Forbidden` in the all-tenants view (pages of one tenant)."""
    if tenant_id is None:
        raise Forbidden(f"choose a tenant to see its {what}", code="web.tenant_required")
    return tenant_id


def require_role(who: Viewer, tenant_id: uuid.UUID | None, role: Role) -> None:
    """Refuse (403) unless the user holds `role` or higher in the tenant (None: global admin)."""
    held = Role.GLOBAL_ADMIN if who.global_admin else None
    if held is None and tenant_id is not None:
        held = who.role_in(tenant_id)
    if held is None or held.rank < role.rank:
        raise Forbidden(f"this needs the {role.value} role", code="auth.role_required")


def may(who: Viewer, tenant_id: uuid.UUID | None, role: Role) -> bool:
    """True when `require_role` would let the user through (templates show controls by it)."""
    try:
        require_role(who, tenant_id, role)
    except Forbidden:
        return False
    return True
