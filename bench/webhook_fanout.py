"""What webhook fan-out costs ingest: 1,000-alert batches through the ingest service, in process.

Per database (SQLite, PostgreSQL), one fresh database and one tenant per scenario:

- `stubbed`: `enqueue_webhooks` replaced by a no-op (the floor: ingest without fan-out);
- `none`: the real fan-out, the tenant has no subscription (the common case: ~0 expected);
- `grouped`: one subscription to `alert.grouped`;
- `everything`: one subscription to `*` (every event type);
- `contraforce`: one `*` subscription in ContraForce style (also reads each incident's alerts).

Batches of the scenarios are interleaved (round-robin, the order rotating) so drift hits them
alike. Figures: the median batch time as alerts/s; the median time spent in the fan-out itself
per batch (`enqueue_webhooks` during the transaction plus the fan-out at commit), measured
directly because whole-batch times on a shared machine vary more than the fan-out costs; and
the deliveries written per batch. No worker runs: the deliveries stay queued (what is measured
is the cost inside the ingest transaction).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

import muster.notify.outbox as outbox
from harness import drop_database, fresh_database, log, per_backend, table, workdir
from muster.alerts.ingest import ingest
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import Database, create_db_engine
from muster.incidents.lifecycle import Actor
from muster.models.webhook import WebhookDelivery
from muster.notify.webhooks import fanout, service
from muster.notify.webhooks.schemas import WebhookCreate
from muster.tenants.schemas import TenantCreate
from muster.tenants.service import create_tenant
from workload import AlertFactory

BATCH = 1_000
ACTOR = Actor("apikey", "apikey:bench", "bench")
SCENARIOS: dict[str, dict[str, Any] | None] = {
    "stubbed": None,
    "none": None,
    "grouped": {"events": ["alert.grouped"]},
    "everything": {"events": ["*"]},
    "contraforce": {"events": ["*"], "signature_style": "contraforce"},
}


def _tenant(db: Database, name: str, subscription: dict[str, Any] | None) -> Any:
    now = datetime.now(UTC)
    with unit_of_work(db, SystemContext(), write=True) as session:
        tenant_id = create_tenant(session, TenantCreate(name=name), now).id
    if subscription is not None:
        data = WebhookCreate(name=name, url="http://127.0.0.1:9/hook", **subscription)
        settings = Settings(webhook_allow_private_targets=True)
        with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
            service.create_subscription(session, data, settings, ACTOR, now)
    return tenant_id


class FanOutTimer:
    """Seconds spent in the fan-out (`enqueue_webhooks` and the commit-time fan-out)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.real_enqueue = outbox.enqueue_webhooks
        self.real_fan_out = fanout._fan_out_now

    def install(self) -> None:
        """Wrap both entry points with timers."""
        outbox.enqueue_webhooks = self._timed(self.real_enqueue)  # type: ignore[assignment]
        fanout._fan_out_now = self._timed(self.real_fan_out)  # type: ignore[assignment]

    def _timed(self, real: Callable[..., None]) -> Callable[..., None]:
        def timed(*args: Any) -> None:
            started = time.perf_counter()
            try:
                real(*args)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


TIMER = FanOutTimer()


def _batch(db: Database, tenant_id: Any, factory: AlertFactory, stub: bool) -> tuple[float, float]:
    """One batch: (seconds, seconds of it spent fanning out)."""
    now = datetime.now(UTC)
    payloads = [factory.payload(now) for _ in range(BATCH)]
    timed = outbox.enqueue_webhooks
    if stub:
        outbox.enqueue_webhooks = _no_fan_out  # type: ignore[assignment]
    TIMER.seconds = 0.0
    try:
        started = time.perf_counter()
        with unit_of_work(db, TenantContext(tenant_id), write=True) as session:
            ingest(session, payloads, ACTOR, now)
        return time.perf_counter() - started, TIMER.seconds
    finally:
        outbox.enqueue_webhooks = timed  # type: ignore[assignment]


def _no_fan_out(session: Any, events: Any) -> None:
    return None


def _deliveries(db: Database, tenant_id: Any) -> int:
    with unit_of_work(db, TenantContext(tenant_id)) as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def bench(kind: str, rounds: int) -> dict[str, Any]:
    """Run every scenario `rounds` batches (after one warm-up batch each) on `kind`."""
    with workdir("webhook-fanout") as where:
        TIMER.install()
        target = fresh_database(kind, "webhook_fanout", where)
        db = create_db_engine(Settings(database_url=target.url))
        try:
            tenants = {name: _tenant(db, f"bench-{name}", sub) for name, sub in SCENARIOS.items()}
            factories = {name: AlertFactory(seed=7, prefix=name) for name in SCENARIOS}
            times: dict[str, list[float]] = {name: [] for name in SCENARIOS}
            fanning: dict[str, list[float]] = {name: [] for name in SCENARIOS}
            names = list(SCENARIOS)
            for round_ in range(rounds + 1):
                turn = round_ % len(names)  # rotate the order: no scenario always goes first
                for name in names[turn:] + names[:turn]:
                    took, fan_out = _batch(db, tenants[name], factories[name], name == "stubbed")
                    if round_:  # the first round opens the incidents: a warm-up
                        times[name].append(took)
                        fanning[name].append(fan_out)
                log(f"{kind}: round {round_}/{rounds}")
            results = {}
            for name in SCENARIOS:
                median = statistics.median(times[name])
                per_batch = _deliveries(db, tenants[name]) / (rounds + 1)
                results[name] = {
                    "median_batch_s": round(median, 4),
                    "median_fan_out_ms": round(statistics.median(fanning[name]) * 1000, 2),
                    "alerts_per_s": round(BATCH / median),
                    "deliveries_per_batch": round(per_batch, 1),
                }
            return results
        finally:
            db.dispose()
            drop_database(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    run: Callable[[str], dict[str, Any]] = lambda kind: bench(kind, args.rounds)  # noqa: E731
    results = per_backend(args.db, run)
    for kind, found in results.items():
        if "skipped" in found:
            continue
        rows = [
            [
                name,
                figures["alerts_per_s"],
                figures["median_fan_out_ms"],
                f"{figures['median_fan_out_ms'] / 10 / figures['median_batch_s']:.1f}%",
                figures["deliveries_per_batch"],
            ]
            for name, figures in found.items()
        ]
        print(f"\n{kind}")
        print(table(["scenario", "alerts/s", "fan-out ms", "of batch", "deliveries/batch"], rows))


if __name__ == "__main__":
    main()
