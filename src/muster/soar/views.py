"""What steps see: the incident as the API shows it, its alerts and entities, on demand."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from muster.alerts.schemas import AlertRead
from muster.incidents.schemas import IncidentListItem
from muster.incidents.service import alerts_of
from muster.models import Incident, SoarProcess
from muster.playbooks.definition import AnyStep, LoopStep, QuestionStep
from muster.query import Subject, compile_predicate, parse_cached
from muster.query.tree import uses_now
from muster.soar.templating import TemplateError, render


@dataclass(slots=True)
class IncidentView:
    """An incident for templates (JSON-style values) and conditions (native values); the
    alerts are loaded the first time a step asks for them."""

    session: Session
    incident: Incident
    _json: dict[str, Any] | None = None
    _native: dict[str, Any] | None = None
    _alerts: list[dict[str, Any]] | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        """camelCase, JSON types (ids and times as strings): for templates and actions."""
        if self._json is None:
            self._json = IncidentListItem.model_validate(self.incident).model_dump(
                mode="json", by_alias=True
            )
        return self._json

    def native(self) -> dict[str, Any]:
        """camelCase, Python types (datetimes): for filter-language conditions."""
        if self._native is None:
            self._native = IncidentListItem.model_validate(self.incident).model_dump(by_alias=True)
        return self._native

    def alerts(self) -> list[dict[str, Any]]:
        """The incident's alerts (camelCase, without raw), oldest first."""
        if self._alerts is None:
            self._alerts = [
                AlertRead.model_validate(alert).model_dump(mode="json", by_alias=True)
                for alert in alerts_of(self.session, self.incident.id)
            ]
        return self._alerts

    def entities(self) -> list[dict[str, Any]]:
        """Every entity of the incident's alerts, each (type, value) once."""
        seen: set[tuple[str, str]] = set()
        out: list[dict[str, Any]] = []
        for alert in self.alerts():
            for entity in alert.get("entities") or ():
                key = (str(entity.get("type")), str(entity.get("value")))
                if key not in seen:
                    seen.add(key)
                    out.append(entity)
        return out

    def for_condition(self, memory: Mapping[str, Any], wants_alerts: bool) -> dict[str, Any]:
        """The item a condition is evaluated on (`muster.query.Subject.PROCESS`)."""
        item = dict(self.native())
        item["memory"] = memory
        if wants_alerts:
            item["alerts"] = self.alerts()
        return item

    def for_template(
        self, process: SoarProcess, memory: Mapping[str, Any], wants_alerts: bool, now: datetime
    ) -> dict[str, Any]:
        """The names a template may use: incident, memory, process, now, alerts, entities."""
        context: dict[str, Any] = {
            "incident": self.as_json(),
            "memory": memory,
            "process": {
                "id": str(process.id),
                "processHash": process.process_hash,
                "playbookId": str(process.playbook_id),
                "playbookVersion": process.playbook_version,
            },
            "now": now,
        }
        if wants_alerts:
            context["alerts"] = self.alerts()
            context["entities"] = self.entities()
        return context


def condition_holds(
    when: str, memory: Mapping[str, Any], view: IncidentView, now: datetime
) -> bool:
    """Whether a condition branch's `when` holds; relative times are taken at `now`."""
    tree = parse_cached(when)
    if uses_now(tree):  # `-1h`, `now()`: at this step, not when first compiled
        predicate = compile_predicate(tree, Subject.PROCESS, now)
    else:
        predicate = _predicate(when)
    return predicate(view.for_condition(memory, "alerts." in when))


@lru_cache(maxsize=1024)
def _predicate(when: str) -> Callable[[Mapping[str, Any]], bool]:
    return compile_predicate(parse_cached(when), Subject.PROCESS)


def loop_items(step: LoopStep, memory: Mapping[str, Any], view: IncidentView) -> list[Any]:
    """The collection a loop runs over: the alerts, the entities, or a memory value."""
    if step.over == "alerts":
        return view.alerts()
    if step.over == "entities":
        return view.entities()
    value = memory.get(step.over.removeprefix("memory."))
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def whom_asked(
    step: AnyStep,
    process: SoarProcess,
    memory: Mapping[str, Any],
    view: IncidentView,
    now: datetime,
) -> dict[str, Any]:
    """Who a question is for: the templated e-mail filled in, `assignee` resolved to the
    person who had the incident before SOAR took it."""
    assert isinstance(step, QuestionStep)
    asked = step.ask.model_dump(exclude_none=True)
    if step.ask.to == "assignee":
        asked["email"] = process.previous_assignee
    elif step.ask.email:
        try:
            asked["email"] = str(
                render(step.ask.email, view.for_template(process, memory, False, now))
            )
        except TemplateError as exc:
            asked["error"] = str(exc)
    return asked


def question_text(
    step: AnyStep,
    process: SoarProcess,
    memory: Mapping[str, Any],
    view: IncidentView,
    now: datetime,
) -> str:
    """The question as asked, its template filled in (or the raw text with the error)."""
    text = getattr(step, "question", "")
    try:
        return str(render(text, view.for_template(process, memory, "alerts" in text, now)))
    except TemplateError as exc:
        return f"{text} (could not be filled in: {exc})"
