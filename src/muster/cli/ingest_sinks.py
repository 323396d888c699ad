"""Where `muster ingest` sends batches: the database (through the ingest service) or HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy.exc import SQLAlchemyError

from muster import telemetry
from muster.alerts.batch import prepare
from muster.alerts.ingest import store
from muster.auth.service import suspension_reason
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import SystemContext, TenantContext, create_db_engine, unit_of_work
from muster.errors import DomainError, NotFound
from muster.incidents.lifecycle import Actor
from muster.tenants.service import get_tenant

ACTOR = Actor("system", "cli:ingest", "muster ingest")
HTTP_ATTEMPTS = 4


class IngestAborted(Exception):
    """Going on is pointless (unknown or suspended tenant, bad key, server unreachable)."""


class BatchRejected(Exception):
    """The batch was refused as a whole and nothing of it stored; names the first bad field."""

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        first = errors[0] if errors else {}
        super().__init__(message)
        self.field: str | None = first.get("field")
        self.message: str = str(first.get("message") or message)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a stored batch came to."""

    duplicates: int
    incidents_created: int


class Sink(Protocol):
    """Where batches go: `send` stores one batch or raises; `close` releases resources."""

    def send(self, payloads: list[Any]) -> Outcome: ...

    def close(self) -> None: ...


class DatabaseSink:
    """Batches into the database through the `ingest` service, one transaction each."""

    def __init__(self, settings: Settings, tenant_id: uuid.UUID, source: str | None = None) -> None:
        self.db = create_db_engine(settings, background_checkpoints=True)
        self.tenant_id, self.source = tenant_id, source
        try:
            with unit_of_work(self.db, SystemContext()) as session:
                tenant = get_tenant(session, tenant_id)
                reason = suspension_reason(
                    tenant.suspended, tenant.eval_expires_at, SystemClock().now()
                )
        except NotFound:
            self.close()
            raise IngestAborted(f"tenant {tenant_id} does not exist") from None
        except SQLAlchemyError as exc:
            self.close()
            raise IngestAborted(f"cannot use the database: {_brief(exc)}") from None
        if reason:
            self.close()
            raise IngestAborted(f"tenant is suspended ({reason}); its alerts are refused")

    def send(self, payloads: list[Any]) -> Outcome:
        """Store the batch, or raise with nothing of it stored."""
        try:
            with unit_of_work(self.db, TenantContext(self.tenant_id), write=True) as session:
                now = SystemClock().now()
                report = store(session, prepare(payloads, ACTOR, now, self.source), now)
        except DomainError as exc:
            raise BatchRejected(exc.detail, exc.errors) from None
        except SQLAlchemyError as exc:
            raise IngestAborted(f"database error, batch rolled back: {_brief(exc)}") from None
        telemetry.count_ingested(len(payloads) - report.duplicates, report.duplicates)
        self.db.inserted("alerts", len(payloads) - report.duplicates)
        self.db.inserted("incidents", report.incidents_created)
        return Outcome(report.duplicates, report.incidents_created)

    def close(self) -> None:
        """Release the connection pool."""
        self.db.dispose()


def _brief(exc: SQLAlchemyError) -> str:
    """The driver's message, first line only (never the statement and its parameters)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class HttpSink:
    """Batches to a running server's `POST /api/v1/alerts`, retrying transient failures."""

    def __init__(
        self, url: str, key: str, tenant_id: uuid.UUID | None, source: str | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if tenant_id is not None:
            headers["X-Muster-Tenant"] = str(tenant_id)
        self.url = url.rstrip("/")
        self.params = {"format": source} if source else {}
        self.client = httpx.Client(
            base_url=self.url, headers=headers, timeout=httpx.Timeout(300, connect=10)
        )

    def send(self, payloads: list[Any]) -> Outcome:
        """Store the batch (ingest is idempotent, so retries are safe), or raise."""
        response = self._post(orjson.dumps({"alerts": payloads}))
        if response.status_code == 200:
            body = response.json()
            return Outcome(int(body["duplicates"]), int(body["incidentsCreated"]))
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        problem = problem if isinstance(problem, dict) else {}
        detail = str(problem.get("detail") or response.reason_phrase)
        if response.status_code in (400, 413, 422):
            raise BatchRejected(detail, problem.get("errors") or ())
        raise IngestAborted(f"{self.url} answered {response.status_code}: {detail}")

    def _post(self, body: bytes) -> httpx.Response:
        """POST with up to HTTP_ATTEMPTS tries on connection errors and 502/503/504."""
        for attempt in range(1, HTTP_ATTEMPTS + 1):
            try:
                response = self.client.post("/api/v1/alerts", content=body, params=self.params)
            except httpx.TransportError as exc:
                if attempt == HTTP_ATTEMPTS:
                    raise IngestAborted(f"cannot reach {self.url}: {exc}") from None
            else:
                if response.status_code not in (502, 503, 504) or attempt == HTTP_ATTEMPTS:
                    return response
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
