"""A tenant's e-mail intake: the address whose mail opens incidents (tenant settings).

- `emailIntake`: one e-mail address, stored lower-case, unique across tenants (a message to it
  belongs to exactly one tenant). Absent or null: the tenant has no intake.
- `emailIntakeSenders` (optional): who may send to it, as addresses (`soc@corp.example`),
  domains (`corp.example`, which also admits its subdomains) or `@corp.example`. Absent or
  empty: anyone may (the intake is usually the mailbox employees report phishing to).

Both are checked when tenant settings are written (`check_settings`), so a bad value is a 400
naming the setting, and a taken address a 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from muster.errors import Conflict, InvalidInput
from muster.models import Tenant
from muster.schema_base import Email

__all__ = [
    "INTAKE_SENDERS_SETTING",
    "INTAKE_SETTING",
    "IntakeTarget",
    "check_settings",
    "intake_targets",
    "sender_allowed",
]

INTAKE_SETTING = "emailIntake"
INTAKE_SENDERS_SETTING = "emailIntakeSenders"
MAX_SENDERS = 200
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


@dataclass(frozen=True, slots=True)
class IntakeTarget:
    """A tenant whose intake address a message was sent to."""

    tenant_id: uuid.UUID
    tenant_name: str
    address: str
    senders: tuple[str, ...]
    suspended: str | None
    eval_expires_at: datetime | None


def check_settings(
    session: Session, settings: Mapping[str, Any], tenant_id: uuid.UUID | None
) -> dict[str, Any]:
    """`settings` with the intake address normalised; InvalidInput for a malformed value,
    Conflict when another tenant has the address."""
    out = dict(settings)
    address = out.get(INTAKE_SETTING)
    if address is not None:
        address = _address(address, f"settings.{INTAKE_SETTING}")
        query = select(Tenant.name).where(Tenant.settings[INTAKE_SETTING].as_string() == address)
        if tenant_id is not None:
            query = query.where(Tenant.id != tenant_id)
        taken = session.scalar(query.limit(1))
        if taken is not None:
            raise Conflict(
                f"{address} is already the e-mail intake of another tenant",
                code="tenant.email_intake_taken",
            )
        out[INTAKE_SETTING] = address
    senders = out.get(INTAKE_SENDERS_SETTING)
    if senders is not None:
        out[INTAKE_SENDERS_SETTING] = _senders(senders)
    return out


def intake_targets(session: Session, recipients: Collection[str]) -> list[IntakeTarget]:
    """The tenants whose intake address is among `recipients` (a system session)."""
    wanted = sorted({address.strip().lower() for address in recipients if address})
    if not wanted:
        return []
    rows = session.scalars(
        select(Tenant)
        .where(Tenant.settings[INTAKE_SETTING].as_string().in_(wanted))
        .order_by(Tenant.name)
    )
    return [
        IntakeTarget(
            tenant.id,
            tenant.name,
            str(tenant.settings[INTAKE_SETTING]),
            tuple(tenant.settings.get(INTAKE_SENDERS_SETTING) or ()),
            tenant.suspended,
            tenant.eval_expires_at,
        )
        for tenant in rows
    ]


def sender_allowed(sender: str, allowed: Sequence[str]) -> bool:
    """Whether `sender` matches the allow-list (an empty list admits everyone)."""
    if not allowed:
        return True
    sender = sender.strip().lower()
    domain = sender.rpartition("@")[2]
    for entry in allowed:
        entry = entry.strip().lower()
        if "@" in entry and not entry.startswith("@"):
            if sender == entry:
                return True
            continue
        entry = entry.removeprefix("@")
        if domain == entry or domain.endswith(f".{entry}"):
            return True
    return False


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput.field(where, "must be an e-mail address")
    try:
        return _EMAIL.validate_python(value.strip())
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput.field(where, f"is not a valid e-mail address: {message}") from None


def _senders(value: Any) -> list[str]:
    where = f"settings.{INTAKE_SENDERS_SETTING}"
    if not isinstance(value, list) or len(value) > MAX_SENDERS:
        raise InvalidInput.field(
            where, f"must be a list of at most {MAX_SENDERS} addresses or domains"
        )
    out: list[str] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            raise InvalidInput.field(f"{where}[{index}]", "must be an address or a domain")
        entry = entry.strip().lower()
        if "@" in entry and not entry.startswith("@"):
            out.append(_address(entry, f"{where}[{index}]"))
            continue
        domain = entry.removeprefix("@")
        try:
            _EMAIL.validate_python(f"postmaster@{domain}")
        except ValidationError:
            raise InvalidInput.field(
                f"{where}[{index}]", f"{entry!r} is neither an address nor a domain"
            ) from None
        out.append(entry)
    return out
