"""Azure Resource Manager ids: the ones this API builds, and the ones clients send in relations.

Sentinel addresses everything under a workspace prefix
`/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}
/providers/Microsoft.SecurityInsights`; muster's workspace is a tenant, and the subscription and
resource group are echoed back as the client sent them. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from muster.errors import InvalidInput

PROVIDER = "Microsoft.SecurityInsights"
INCIDENT_TYPE = f"{PROVIDER}/incidents"
COMMENT_TYPE = f"{PROVIDER}/incidents/comments"
RELATION_TYPE = f"{PROVIDER}/incidents/relations"
ENTITY_TYPE = f"{PROVIDER}/Entities"


@dataclass(frozen=True, slots=True)
class Workspace:
    """The ARM scope a request named: subscription, resource group and workspace (tenant id)."""

    subscription: str
    resource_group: str
    name: str

    @property
    def prefix(self) -> str:
        """The SecurityInsights provider path of this workspace."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.OperationalInsights/workspaces/{self.name}/providers/{PROVIDER}"
        )

    def incident_id(self, incident: object) -> str:
        """The ARM id of an incident."""
        return f"{self.prefix}/incidents/{incident}"

    def comment_id(self, incident: object, comment: object) -> str:
        """The ARM id of an incident comment."""
        return f"{self.incident_id(incident)}/comments/{comment}"

    def relation_id(self, incident: object, relation: str) -> str:
        """The ARM id of an incident relation."""
        return f"{self.incident_id(incident)}/relations/{relation}"

    def entity_id(self, entity: object) -> str:
        """The ARM id of an entity (alerts are entities too), as Sentinel spells it."""
        return f"{self.prefix}/Entities/{entity}"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """What a relation shows about the resource it points at, read off its ARM id."""

    name: str
    type: str  # provider namespace and resource types, e.g. Microsoft.SecurityInsights/bookmarks
    kind: str | None  # SecurityAlert for an alert entity; None when the id does not say


def parse_resource_id(resource_id: str, field: str = "relatedResourceId") -> ResourceRef:
    """Name, type and kind of an ARM resource id; InvalidInput unless it is one
    (`/subscriptions/{s}/…/providers/{namespace}/{type}/{name}[/{type}/{name}…]`)."""
    parts = resource_id.strip().strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions" or not all(parts):
        raise InvalidInput.field(
            field, "must be an Azure resource id starting /subscriptions/{subscriptionId}/"
        )
    providers = [i for i, part in enumerate(parts) if part.lower() == "providers"]
    if providers and providers[-1] + 1 >= len(parts):
        raise InvalidInput.field(field, "names no provider namespace after /providers/")
    if providers:
        start = providers[-1] + 1
        namespace, rest = parts[start], parts[start + 1 :]
    else:  # a resource group or subscription: Microsoft.Resources
        namespace, rest = "Microsoft.Resources", parts
    if not rest or len(rest) % 2:
        raise InvalidInput.field(field, "must end with a resource type and name")
    types = rest[0::2]
    kind = "SecurityAlert" if types[-1].lower() == "entities" else None
    return ResourceRef(name=rest[-1], type="/".join([namespace, *types]), kind=kind)
