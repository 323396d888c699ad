"""ORM tables, one module per aggregate. Import from here so every mapper is registered."""

from muster.models.alert import Alert
from muster.models.apikey import ApiKey
from muster.models.audit import AuditEvent, GlobalAuditEvent
from muster.models.entity_index import EntityCommonness, EntityIncident
from muster.models.grouping_rule import GroupingRule
from muster.models.incident import Comment, Incident, IncidentRelation
from muster.models.job import Job
from muster.models.login_failure import LoginFailure
from muster.models.playbook import Playbook, PlaybookVersion
from muster.models.soar import SoarProcess, SoarStepLog
from muster.models.tenant import Tenant
from muster.models.user import Membership, User
from muster.models.web_session import WebSession
from muster.models.webhook import WebhookDelivery, WebhookSubscription

__all__ = [
    "Alert",
    "ApiKey",
    "AuditEvent",
    "Comment",
    "EntityCommonness",
    "EntityIncident",
    "GlobalAuditEvent",
    "GroupingRule",
    "Incident",
    "IncidentRelation",
    "Job",
    "LoginFailure",
    "Membership",
    "Playbook",
    "PlaybookVersion",
    "SoarProcess",
    "SoarStepLog",
    "Tenant",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookSubscription",
]
