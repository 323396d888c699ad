"""Notification mail text from the Jinja2 templates shipped in `templates/` (pure).

Each kind has one template with two blocks, `subject` and `body`. Templates are plain text
(no HTML escaping); values are only ever substituted into them, never rendered as templates.
The subject is always one line, at most ~200 characters, and starts with `[XXXX-XXXX]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from muster.notify.mail.smtp import hash_subject, one_line

__all__ = ["MAX_DETAILS_CHARS", "Rendered", "incident_context", "render", "severity_name"]

MAX_DETAILS_CHARS = 2000
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
KIND_LABELS = {"assignment": "assignment", "question": "SOAR question", "sla": "SLA breach"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message's subject (one line, tagged with the incident hash) and plain-text body."""

    subject: str
    body: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("muster.notify.mail", "templates"),
        autoescape=False,  # text/plain
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(kind: str, context: Mapping[str, Any]) -> Rendered:
    """The `kind` message (`assignment`, `question`, `sla`) for `context`, which holds
    `incident` (see `incident_context`), `tenant`, `greeting` and the kind's own values."""
    template = _environment().get_template(f"{kind}.txt")
    values = dict(context)
    values.setdefault("kind", kind)
    values.setdefault("kind_label", KIND_LABELS.get(kind, kind))
    subject = "".join(template.blocks["subject"](template.new_context(values)))
    body = "".join(template.blocks["body"](template.new_context(values)))
    return Rendered(hash_subject(subject, str(context["incident"]["hash"])), _tidy(body))


def severity_name(severity: int) -> str:
    """`High` for 4, … `Informational` for 1."""
    return SEVERITY_NAMES.get(severity, str(severity))


def incident_context(incident: Mapping[str, Any], public_url: str) -> dict[str, Any]:
    """What templates show of an incident, from its API fields (camelCase): the details cut
    to `MAX_DETAILS_CHARS`, a link to it, times as `YYYY-MM-DD HH:MM UTC`."""
    details = str(incident.get("details") or "").strip()
    if len(details) > MAX_DETAILS_CHARS:
        details = details[: MAX_DETAILS_CHARS - 1].rstrip() + "…"
    return {
        "id": str(incident["id"]),
        "hash": str(incident["incidentHash"]),
        "number": incident.get("number"),
        "description": one_line(str(incident.get("description") or ""), 500),
        "details": details,
        "severity": incident.get("severity"),
        "severityName": severity_name(int(incident.get("severity") or 0)),
        "status": incident.get("status"),
        "assignee": incident.get("assignee"),
        "assigneeName": incident.get("assigneeName"),
        "source": incident.get("source"),
        "createdAt": when(incident.get("createdAt")),
        "link": f"{public_url.rstrip('/')}/api/v1/incidents/{incident['id']}",
    }


def greeting(names: Sequence[str]) -> str:
    """`Hello Ana Lyst,` for one or two people; `Hello,` for more."""
    if not names or len(names) > 2:
        return "Hello,"
    return f"Hello {' and '.join(names)},"


def when(value: Any) -> str:
    """A time as `2026-03-02 09:30 UTC` (ISO strings and datetimes); '' for None."""
    if value is None:
        return ""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _tidy(body: str) -> str:
    """At most one blank line in a row, no trailing spaces (but the signature mark `-- `),
    one final newline."""
    lines = [line if line == "-- " else line.rstrip() for line in body.strip("\n").splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out) + "\n"
