"""Pure renderer: a muster SOAR process (a playbook run) as ContraForce's Gamebook, each
logged step as one of its playbook steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from muster.compat.contraforce.envelopes import iso
from muster.compat.views import IncidentView
from muster.models import SoarProcess, SoarStepLog

# muster process status -> Gamebook status
GAMEBOOK_STATUS = {
    "PENDING": "Pending",
    "RUNNING": "Running",
    "WAITING_INPUT": "WaitingForInput",
    "WAITING_CHILD": "Running",
    "SLEEPING": "Running",
    "FINISHED": "Completed",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
}

# step-log outcome -> playbook step status
STEP_STATUS = {
    "ok": "Completed",
    "error": "Failed",
    "asked": "WaitingForInput",
    "answered": "Completed",
    "timeout": "TimedOut",
}


def gamebook_step(log: SoarStepLog, sequence: int) -> dict[str, Any]:
    """One executed step as a Gamebook playbook step (executionTime in seconds)."""
    took = (log.finished_at - log.started_at).total_seconds()
    return {
        "id": str(log.id),
        "referenceId": log.step_id,
        "entityId": None,
        "name": log.action or log.step_id,
        "description": f"{log.kind} step {log.step_id}",
        "entityType": None,
        "affectedEntity": None,
        "isRecommended": False,
        "status": STEP_STATUS.get(log.outcome, log.outcome),
        "errorMessage": log.error,
        "sequence": sequence,
        "modificationDate": iso(log.finished_at),
        "startingDate": iso(log.started_at),
        "finishingDate": iso(log.finished_at),
        "executionTime": max(took, 0.0),
        "tracingId": None,
        "parameters": dict(log.inputs or {}),
        "isAdminRequired": False,
    }


def gamebook(
    process: SoarProcess,
    steps: Sequence[SoarStepLog],
    view: IncidentView,
    playbook_name: str,
    source: str,
) -> dict[str, Any]:
    """A SOAR process as a Gamebook: its playbook is the gamebook, its steps the playbooks."""
    status = GAMEBOOK_STATUS.get(process.status, process.status.title())
    summary = process.error or f"playbook {playbook_name!r} {status.lower()}"
    return {
        "id": str(process.id),
        "tracingId": process.process_hash,
        "incidentId": str(process.incident_id),
        "source": source,
        "incidentTitle": view.title,
        "incidentNumber": view.number,
        "isOcr": False,
        "isRecover": False,
        "triggedByUserId": process.started_by,
        "displayName": playbook_name,
        "modificationDate": iso(process.updated_at),
        "creationDate": iso(process.created_at),
        "status": status,
        "title": playbook_name,
        "isAdminRequired": False,
        "workspaceId": str(view.tenant_id),
        "workspaceName": view.tenant_name,
        "tenantId": str(view.tenant_id),
        "isAutoRun": process.trigger == "incident",
        "originalGamebookId": str(process.playbook_id),
        "originalGamebookTitle": playbook_name,
        "isRetryGamebook": False,
        "isQueued": process.status == "PENDING",
        "playbooks": [
            {**gamebook_step(log, i), "tracingId": process.process_hash}
            for i, log in enumerate(steps, start=1)
        ],
        "summary": summary,
    }
