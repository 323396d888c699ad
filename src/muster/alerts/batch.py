"""Validate an ingest body before anything touches the database.

`prepare` turns each alert object into the row that will be stored and the facts grouping
decides on, or raises `InvalidInput` naming the field (`alerts[7].severity`). It is pure: the
request does it before it queues the batch for storage.

Records of other products (`muster.alerts.formats`) are mapped first: with a format named,
every record is read as that format; with none, a record with `ruleName` is muster's own
(the fast path: one key lookup), any other is auto-detected. A mapped alert keeps the
vendor record verbatim as its `raw` (and content fingerprint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from muster import jsontext
from muster.alerts import formats
from muster.alerts.schemas import AlertIn
from muster.db.types import JSONText
from muster.errors import InvalidInput
from muster.grouping.decision import KEY_FIELDS
from muster.ids import new_id
from muster.incidents.lifecycle import Actor
from muster.query.fields import ALERT_FIELDS


@dataclass(frozen=True, slots=True)
class Prepared:
    """One validated alert: its row (API order kept), grouping facts, who sent it, the payload."""

    row: Mapping[str, Any]
    facts: Mapping[str, Any]
    actor: Actor
    payload: Mapping[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        """The alert as filters see it: every catalogue field by API name, `raw`, `entities`."""
        row = self.row
        view = {api: row.get(spec.attr) for api, spec in ALERT_FIELDS.items()}
        view["entities"] = row.get("entities") or []
        view["raw"] = self.payload
        return view


def parse_batch(payload: Any, max_batch: int) -> list[Mapping[str, Any]]:
    """Return the alerts of a body: one alert object or `{"alerts": [...]}`."""
    if isinstance(payload, dict) and set(payload) == {"alerts"}:
        alerts = payload["alerts"]
        if not isinstance(alerts, list):
            raise InvalidInput.field("alerts", "must be a list of alert objects")
        if not alerts:
            raise InvalidInput.field("alerts", "must not be empty")
        if len(alerts) > max_batch:
            raise InvalidInput.field(
                "alerts",
                f"a batch holds at most {max_batch} alerts, got {len(alerts)}",
                code="request.batch_too_large",
            )
        return alerts
    if isinstance(payload, dict):
        return [payload]
    raise InvalidInput.field("body", 'must be an alert object or {"alerts": [...]}')


def source_format(name: str | None) -> str | None:
    """The format a request names (None: detect per record), or InvalidInput naming `format`."""
    if name is None or formats.mapper(name) is not None:
        return name
    known = ", ".join(formats.FORMATS)
    raise InvalidInput.field(
        "format", f"unknown alert format {name!r}; known: {known}", code="alert.unknown_format"
    )


def prepare(
    payloads: Sequence[Any], actor: Actor, now: datetime, source: str | None = None
) -> list[Prepared]:
    """Validate every alert of a batch, mapping records of `source` (or of the detected
    format) first; the first invalid one raises, naming its index and field."""
    total = len(payloads)
    prepared = []
    for index, payload in enumerate(payloads):
        alert, record = _mapped(index, payload, total, source)
        prepared.append(Prepared(*_prepare(index, alert, record, total, now), actor, record))
    return prepared


def _mapped(index: int, payload: Any, total: int, source: str | None) -> tuple[Any, Any]:
    """The alert object to validate and the record to keep as `raw`, for one payload."""
    if source == formats.MUSTER or not isinstance(payload, dict):
        return payload, payload
    if source is None:
        if "ruleName" in payload:  # muster's own shape: no detection, no copy
            return payload, payload
        source = formats.detect(payload)
        if source is None:
            if payload.keys() & _ALERT_FIELDS:
                return payload, payload  # a muster alert with its own mistakes
            where = f"alerts[{index}]" if total > 1 else "body"
            raise InvalidInput.field(
                where,
                f"record {index} is in no known alert format ({', '.join(formats.FORMATS)}); "
                "name one with ?format=",
                code="alert.unknown_format",
            )
    to_alert = formats.mapper(source)
    assert to_alert is not None  # checked by source_format
    try:
        alert = to_alert(payload)
    except formats.Unmappable as exc:
        where = f"alerts[{index}]" if total > 1 else ""
        field_name = f"{where}.{exc.field}" if where else exc.field
        raise InvalidInput.field(field_name, f"{exc.message} (as a {source} alert)") from None
    return alert, payload


_ALERT_FIELDS = frozenset(
    info.alias or name for name, info in AlertIn.model_fields.items()
) | frozenset(AlertIn.model_fields)


def _prepare(
    index: int, payload: Any, record: Any, total: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate one alert and return its row and its grouping facts; `record` is the raw
    payload as sent (the alert itself, or the vendor record it was mapped from)."""
    where = f"alerts[{index}]" if total > 1 else ""
    if not isinstance(payload, dict):
        raise InvalidInput.field(where or "body", "must be an alert object")
    try:
        alert = AlertIn.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc, where) from None
    try:
        raw_text = jsontext.dumps(record)
    except jsontext.JSONTextError as exc:
        name = _unstorable_field(record)
        raise InvalidInput.field(
            f"{where}.{name}" if where else name, f"cannot be stored: {exc}"
        ) from None
    row = dict(alert.__dict__)  # the validated fields; model_dump would copy them again
    del row["created_at"], row["entities"]
    at = alert.created_at or now
    row.update(
        id=new_id(),
        created_at=at,
        updated_at=now,
        last_seen_at=now,
        occurrences=1,
        entities=[entity.model_dump(by_alias=True, exclude_none=True) for entity in alert.entities],
        raw=JSONText(raw_text),
        dedup_key=_dedup_key(alert, record),
        incident_id=None,
        grouping_reason=None,
    )
    facts = {api: row[attr] for api, attr in KEY_FIELDS.items()}
    facts["createdAt"] = at
    return row, facts


def _unstorable_field(payload: Mapping[str, Any]) -> str:
    """The top-level field whose value cannot be stored as JSON (e.g. nested too deeply)."""
    for name, value in payload.items():
        try:
            jsontext.dumps({name: value})  # at the depth it has inside the payload
        except jsontext.JSONTextError:
            return str(name)
    return "raw"


def _dedup_key(alert: AlertIn, payload: Mapping[str, Any]) -> str:
    """Same source + externalId, or else the same content, is the same alert."""
    if alert.external_id:
        basis = f"id\x1f{alert.source}\x1f{alert.external_id}"
    else:
        canonical = jsontext.dumps(payload, sort_keys=True)
        basis = "content\x1f" + canonical
    return hashlib.sha256(basis.encode()).hexdigest()[:32]  # 128 bits: a smaller index


def _invalid(exc: ValidationError, where: str) -> InvalidInput:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in err["loc"])
        field_name = f"{where}.{path}" if where else path
        errors.append({"field": field_name, "message": err["msg"]})
    first = errors[0]
    return InvalidInput(f"{first['field']}: {first['message']}", errors=errors)
