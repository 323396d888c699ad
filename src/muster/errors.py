"""Typed domain errors.

Every error a service can raise is a `DomainError` with a stable `code` that clients switch on.
The hierarchy says what kind of failure it is; the HTTP shells map the kinds to status codes in
one table (`muster.api.problems`), so no service knows about HTTP:

    DomainError
    ├── NotFound             the thing does not exist for this caller (another tenant's ids too)
    ├── InvalidInput         the request is well-formed but a value is wrong (names the fields)
    ├── Conflict             the request clashes with the current state
    │   ├── InvalidTransition    lifecycle rule refused the change
    │   └── StaleVersion         If-Match did not match the current version
    ├── Unauthenticated      no or bad credential
    ├── Forbidden            the credential may not do this
    │   └── TenantSuspended      the tenant is suspended or its evaluation has expired
    └── PayloadTooLarge      body or batch over the configured limit
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = list(errors)


class NotFound(DomainError):
    """The resource does not exist, or belongs to a tenant the caller cannot see."""

    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found", code=f"{kind}.not_found")


class InvalidInput(DomainError):
    """A value in the request is wrong; `errors` names each offending field."""

    code = "validation_failed"

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> InvalidInput:
        """Build the error for a single offending field."""
        return cls(f"{field}: {message}", code=code, errors=[{"field": field, "message": message}])


class Conflict(DomainError):
    """The request cannot be applied to the current state of the resource."""

    code = "conflict"


class InvalidTransition(Conflict):
    """The incident lifecycle does not allow this change."""

    code = "incident.invalid_transition"


class StaleVersion(Conflict):
    """The client's If-Match version is not the current one."""

    code = "incident.stale_version"


class Unauthenticated(DomainError):
    """No credential, or one that does not exist, was presented."""

    code = "auth.unauthenticated"


class Forbidden(DomainError):
    """The credential is valid but its role does not allow the action."""

    code = "auth.forbidden"


class TenantSuspended(Forbidden):
    """The tenant is suspended (or its evaluation expired): nothing is read or ingested."""

    code = "tenant.suspended"


class PayloadTooLarge(DomainError):
    """The body or the batch exceeds a configured limit."""

    code = "request.too_large"
