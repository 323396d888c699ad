"""Answering a SOAR question in Chromium: a playbook saved through the native API asks on a
new incident; the analyst sees the question, its options as buttons and the countdown, clicks
one, and the run takes the branch and shows the answer in its step log and on the timeline."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from muster.models.enums import Role
from tests.api.apicalls import wait_for
from tests.factories import alert
from tests.web.browser.conftest import Console
from tests.web.browser.journeys import api_incident, ingest, log_in, open_incident, until

OPTIONS = ["contain", "dismiss"]


def question_playbook(name: str, marker: str) -> dict[str, Any]:
    """Ask whether to contain the host; `contain` comments `marker`, the rest just ends."""
    return {
        "name": name,
        "trigger": "incident",
        "steps": [
            {
                "id": "ask",
                "kind": "question",
                "question": "Contain host {{ incident.incidentHash }}?",
                "options": OPTIONS,
                "answerMemory": "decision",
                "timeout": "1h",
                "onTimeout": "done",
                "next": "decide",
            },
            {
                "id": "decide",
                "kind": "condition",
                "branches": [{"when": 'memory.decision = "contain"', "next": "note"}],
                "else": "done",
            },
            {
                "id": "note",
                "kind": "action",
                "action": "comment",
                "params": {"body": f"{marker} by {{{{ memory.decisionBy }}}}"},
                "next": "done",
            },
            {"id": "done", "kind": "end"},
        ],
    }


def test_answer_a_question_with_its_option_button(console: Console, page: Page) -> None:
    marker = f"contained-{uuid.uuid4().hex[:6]}"
    saved = console.api.post(
        "/api/v1/playbooks",
        json=question_playbook(f"contain-{uuid.uuid4().hex[:6]}", marker),
        headers=console.tenant.headers(Role.TENANT_ADMIN),
    )
    assert saved.status_code == 201, saved.text
    (item,) = ingest(console, alert(hostname=f"soar-{uuid.uuid4().hex[:6]}"))
    incident_id = str(item["incidentId"])
    waiting = wait_for(
        lambda: api_incident(console, incident_id), lambda i: i["soarStatus"] == "WAITING_INPUT"
    )
    question = f"Contain host {waiting['incidentHash']}?"

    log_in(page, console.user)
    row = page.locator(f'tbody#queue-rows tr[data-incident-id="{incident_id}"]')
    expect(row.locator("td.soar")).to_contain_text(re.compile("waiting", re.I))
    open_incident(page, incident_id)
    soar = page.locator("section#soar")
    expect(soar.locator("#soar-playbook")).to_contain_text(saved.json()["name"])
    expect(soar.locator("#soar-status")).to_contain_text(re.compile("waiting", re.I))
    expect(soar.locator("#soar-question")).to_contain_text(question)
    buttons = soar.locator("button.soar-option")
    expect(buttons).to_have_count(len(OPTIONS))
    assert [buttons.nth(n).get_attribute("value") for n in range(len(OPTIONS))] == OPTIONS
    expect(soar.locator("#soar-countdown")).to_be_visible()
    expect(soar.locator("#soar-countdown")).not_to_be_empty()

    soar.locator('button.soar-option[value="contain"]').click()

    def finished() -> bool:
        steps = page.locator("section#soar table#soar-steps").inner_text().lower()
        status = page.locator("section#soar #soar-status").inner_text().lower()
        return "answered" in steps and "finished" in status

    until(page, finished, "the run finished with the answer in the step log")
    steps = page.locator("section#soar table#soar-steps tbody tr")
    expect(steps.filter(has_text="answered")).to_contain_text("ask")
    expect(steps.filter(has_text="note")).not_to_have_count(0)  # the "contain" branch ran
    expect(page.locator("section#soar button.soar-option")).to_have_count(0)
    answered = page.locator("ol#timeline > li").filter(has_text=re.compile("answer", re.I))
    expect(answered.filter(has_text="contain")).not_to_have_count(0)
    expect(page.locator("ul#comments")).to_contain_text(marker)

    done = api_incident(console, incident_id)
    assert done["soarStatus"] == "FINISHED"
    memory = console.api.get(
        f"/api/v1/soar/processes/{done['soarProcessId']}", headers=console.tenant.headers()
    ).json()["memory"]
    assert memory["decision"] == "contain"
    assert memory["decisionBy"] == console.user.actor  # answered by this user, not a key
