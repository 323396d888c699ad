"""Enumerations shared by tables, schemas and pure decisions."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class IncidentStatus(StrEnum):
    OPEN = "OPEN"
    UNDER_INVESTIGATION = "UNDER_INVESTIGATION"
    RESOLVED = "RESOLVED"


class Resolution(StrEnum):
    TRUE_POSITIVE = "TRUE_POSITIVE"
    BENIGN_POSITIVE = "BENIGN_POSITIVE"
    FALSE_POSITIVE = "FALSE_POSITIVE"
    UNDETERMINED = "UNDETERMINED"
    DUPLICATE = "DUPLICATE"


class SoarStatus(StrEnum):
    NOT_PROCESSED = "NOT_PROCESSED"
    PENDING = "PENDING"
    EXECUTING_PLAYBOOK = "EXECUTING_PLAYBOOK"
    WAITING_INPUT = "WAITING_INPUT"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class Severity(IntEnum):
    UNSPECIFIED = 0  # alerts only
    INFORMATIONAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4


class Role(StrEnum):
    """Roles in increasing power; `global_admin` sees every tenant."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    TENANT_ADMIN = "tenant_admin"
    GLOBAL_ADMIN = "global_admin"

    @property
    def rank(self) -> int:
        """Position in the order viewer < analyst < tenant_admin < global_admin."""
        return list(Role).index(self)


TENANT_ROLES = (Role.VIEWER, Role.ANALYST, Role.TENANT_ADMIN)

SOAR_ASSIGNEE = "SOAR"
