"""Enrichment: facts about a technique, an IP address, and the tenant's related incidents.

`attack_lookup` and `classify_ip` are pure (the offline ATT&CK catalogue, `ipaddress`).
`related_incidents` reads the tenant's alerts: two incidents are related when their alerts
share a value (hostname, username, srcIp or an entity's value, compared without regard to
case) within the last `days`. It is `read_only`: it runs in a read-only transaction of its
own, not in the step's, which holds the incident's row lock (a 30-minute soak on PostgreSQL
saw ingest into the locked incidents wait behind it). Its cost is bounded by the number of
alerts it examines (`MAX_EXAMINED`, the tenant's newest), not by the size of the tenant.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from muster.attack import normalise_tactic, tactic_id, technique, technique_tactics
from muster.models import Alert, Incident
from muster.soar.actions.base import Action, ActionContext, register
from muster.soar.actions.camel import CamelInput, CamelOutput
from muster.soar.actions.incident_actions import IncidentAction

MAX_VALUES = 200  # distinct values of this incident that are looked for
MAX_SCANNED = 5000  # most recent matching alerts of other incidents that are read
MAX_EXAMINED = 20_000  # the tenant's newest alerts that are looked through for those matches


class AttackInput(CamelInput):
    """A technique and/or a tactic, in any spelling the catalogue accepts."""

    technique: Annotated[str, Field(max_length=256)] | None = None
    tactic: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("technique")
    @classmethod
    def _technique(cls, value: str | None) -> str | None:
        return technique(value).id if value else None

    @field_validator("tactic")
    @classmethod
    def _tactic(cls, value: str | None) -> str | None:
        return normalise_tactic(value) if value else None

    @model_validator(mode="after")
    def _one_needed(self) -> AttackInput:
        if not (self.technique or self.tactic):
            raise ValueError("give a technique, a tactic or both")
        return self


class AttackOutput(CamelOutput):
    """Canonical ids and names; fields of what was not asked stay empty."""

    technique_id: str | None = None
    technique_name: str | None = None
    technique_tactics: list[str] = Field(default_factory=list, description="display names")
    technique_tactic_ids: list[str] = Field(default_factory=list)
    parent_technique_id: str | None = None
    parent_technique_name: str | None = None
    tactic: str | None = Field(default=None, description="the tactic's display name")
    tactic_id: str | None = None
    technique_in_tactic: bool | None = Field(
        default=None, description="with both given: whether the technique belongs to the tactic"
    )


@register
class AttackLookup(Action):
    """Names and tactics of a MITRE ATT&CK technique and/or tactic, from the offline catalogue."""

    name = "attack_lookup"
    # no I/O: it runs inside the step's transaction (one commit per step)
    in_transaction: ClassVar[bool] = True
    summary = "Look up a MITRE ATT&CK technique and/or tactic (any accepted spelling)."
    Input = AttackInput
    Output = AttackOutput

    def run(self, ctx: ActionContext, params: AttackInput) -> AttackOutput:
        """Canonical ids and names of what was given; unknown values failed validation."""
        out = AttackOutput()
        if params.technique:
            found = technique(params.technique)
            out.technique_id, out.technique_name = found.id, found.name
            out.technique_tactics = list(technique_tactics(found.id))
            out.technique_tactic_ids = [tactic_id(name) for name in out.technique_tactics]
            if found.parent_id is not None:
                out.parent_technique_id = found.parent_id
                out.parent_technique_name = technique(found.parent_id).name
        if params.tactic:
            out.tactic, out.tactic_id = params.tactic, tactic_id(params.tactic)
        if params.technique and params.tactic:
            out.technique_in_tactic = params.tactic in out.technique_tactics
        return out


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClassifyIpInput(CamelInput):
    """An IPv4 or IPv6 address and CIDR networks to test it against."""

    ip: Annotated[str, Field(max_length=64)]
    networks: list[str] = Field(
        default_factory=list, max_length=1000, description="CIDRs to test membership of"
    )

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        return str(_address(value))

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(str(net).strip(), strict=False)) for net in value]


def _address(value: str) -> IpAddress:
    """The address, IPv4-mapped IPv6 (`::ffff:10.0.0.1`) taken as the IPv4 it carries."""
    address = ipaddress.ip_address(value.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClassifyIpOutput(CamelOutput):
    """The address's kind (flags as `ipaddress` defines them) and matching networks."""

    ip: str
    version: int
    private: bool
    loopback: bool
    link_local: bool
    multicast: bool
    reserved: bool
    unspecified: bool
    is_global: bool = Field(alias="global")
    matched_networks: list[str]


@register
class ClassifyIp(Action):
    """What kind of address an IP is, and which of the given networks contain it."""

    name = "classify_ip"
    # no I/O: it runs inside the step's transaction (one commit per step)
    in_transaction: ClassVar[bool] = True
    summary = "Classify an IP (private, loopback, global…) and test it against CIDR networks."
    Input = ClassifyIpInput
    Output = ClassifyIpOutput

    def run(self, ctx: ActionContext, params: ClassifyIpInput) -> ClassifyIpOutput:
        """The address's flags as `ipaddress` defines them, and its matching networks."""
        address = _address(params.ip)
        return ClassifyIpOutput(
            ip=str(address),
            version=address.version,
            private=address.is_private,
            loopback=address.is_loopback,
            link_local=address.is_link_local,
            multicast=address.is_multicast,
            reserved=address.is_reserved,
            unspecified=address.is_unspecified,
            is_global=address.is_global,
            matched_networks=[
                net for net in params.networks if address in ipaddress.ip_network(net)
            ],
        )


class RelatedInput(CamelInput):
    """How far back to look (days) and how many incidents to return."""

    days: int = Field(default=30, ge=1, le=365)
    limit: int = Field(default=20, ge=1, le=100)


class RelatedIncident(CamelOutput):
    """One related incident and the values it shares with this one."""

    id: str
    incident_hash: str
    number: int
    description: str
    status: str
    severity: int
    shared: list[str]


class RelatedOutput(CamelOutput):
    """Related incidents, newest first."""

    incidents: list[RelatedIncident]


@register
class RelatedIncidents(IncidentAction):
    """Other incidents of the tenant whose recent alerts share a value with this incident's."""

    name = "related_incidents"
    in_transaction = False
    read_only = True  # a scan of up to 20,000 alerts: it must not hold the incident's lock
    summary = (
        "Incidents sharing a hostname, username, srcIp or entity value with this one "
        "among the tenant's newest 20,000 alerts of the last `days` (default 30), newest first."
    )
    Input = RelatedInput
    Output = RelatedOutput

    def run(self, ctx: ActionContext, params: RelatedInput) -> RelatedOutput:
        """At most `limit` related incidents, newest first, each with the values shared."""
        session, incident_id = self.session(ctx), self.incident_id(ctx)
        own_rows = session.execute(
            select(Alert.hostname, Alert.username, Alert.src_ip, Alert.entities)
            .where(Alert.incident_id == incident_id)
            .limit(MAX_SCANNED)
        )
        own = dict(sorted(_values(own_rows).items())[:MAX_VALUES])
        if not own:
            return RelatedOutput(incidents=[])
        since = ctx.now - timedelta(days=params.days)
        shared = _shared(session, incident_id, own, since)
        incidents = session.scalars(
            select(Incident)
            .where(Incident.id.in_(list(shared)))
            .order_by(Incident.created_at.desc(), Incident.number.desc())
            .limit(params.limit)
        )
        return RelatedOutput(
            incidents=[
                RelatedIncident(
                    id=str(incident.id),
                    incident_hash=incident.incident_hash,
                    number=incident.number,
                    description=incident.description,
                    status=incident.status,
                    severity=incident.severity,
                    shared=sorted(shared[incident.id]),
                )
                for incident in incidents
            ]
        )


def _shared(
    session: Session, incident_id: uuid.UUID, own: dict[str, str], since: datetime
) -> dict[uuid.UUID, set[str]]:
    """Other incidents whose alerts since `since` hold one of `own`'s values → those values."""
    wanted = list(own)
    entities = cast(Alert.entities, String)
    newest = (
        select(Alert.id)
        .where(Alert.created_at >= since)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(MAX_EXAMINED)
    )
    matches = session.execute(
        select(Alert.incident_id, Alert.hostname, Alert.username, Alert.src_ip, Alert.entities)
        .where(
            Alert.id.in_(newest.scalar_subquery()),
            Alert.incident_id.is_not(None),
            Alert.incident_id != incident_id,
            Alert.created_at >= since,
            or_(
                func.lower(Alert.hostname).in_(wanted),
                func.lower(Alert.username).in_(wanted),
                func.lower(Alert.src_ip).in_(wanted),
                # a cheap filter on the stored JSON text; `_values` checks the entities exactly
                *(entities.icontains(text, autoescape=True) for text in _json_forms(wanted)),
            ),
        )
        .order_by(Alert.created_at.desc())
        .limit(MAX_SCANNED)
    )
    shared: dict[uuid.UUID, set[str]] = {}
    for other_id, *fields in matches:
        common = _values([fields]).keys() & own.keys()
        if common:
            shared.setdefault(other_id, set()).update(own[value] for value in common)
    return shared


def _values(rows: Iterable[Any]) -> dict[str, str]:
    """lower-cased value → its first spelling, over (hostname, username, srcIp, entities) rows."""
    out: dict[str, str] = {}
    for hostname, username, src_ip, entities in rows:
        values = [hostname, username, src_ip]
        values += [entity.get("value") for entity in entities or () if isinstance(entity, dict)]
        for value in values:
            if isinstance(value, str) and value.strip():
                out.setdefault(value.lower(), value)
    return out


def _json_forms(values: Iterable[str]) -> set[str]:
    """How each value appears inside stored JSON text (quoted; ASCII-escaped or not)."""
    forms: set[str] = set()
    for value in values:
        forms.add(json.dumps(value, ensure_ascii=False))
        forms.add(json.dumps(value))
    return forms
