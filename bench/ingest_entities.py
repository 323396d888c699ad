"""Batched ingest with the "Shared entities" grouping rule on: `ingest_batch.py`'s benchmark
with that rule enabled on the benchmark tenant (its defaults otherwise), to compare the
per-alert cost of entity-aware grouping with the default key rules.

    .venv/bin/python bench/ingest_entities.py [--quick] [--db sqlite|postgresql|both]

writes bench/results/ingest_entities[-quick].json (the same figures as ingest_batch).
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

import ingest_batch
from harness import Database
from muster.config import Settings
from muster.db import TenantContext, unit_of_work
from muster.db.engine import create_db_engine
from muster.grouping.schemas import GroupingRuleUpdate
from muster.grouping.service import update_rule
from muster.models import GroupingRule

ENTITY_RULE = "Shared entities"
_create_tenant = ingest_batch.create_tenant


def create_tenant_with_entities(db: Database, name: str) -> tuple[str, str]:
    """`harness.create_tenant`, then turn the tenant's entities rule on."""
    tenant, key = _create_tenant(db, name)
    database = create_db_engine(Settings(database_url=db.url))
    try:
        with unit_of_work(database, TenantContext(uuid.UUID(tenant)), write=True) as session:
            rule = session.scalars(
                select(GroupingRule).where(GroupingRule.name == ENTITY_RULE)
            ).one()
            update_rule(session, rule.id, GroupingRuleUpdate(enabled=True), datetime.now(UTC))
    finally:
        database.dispose()
    return tenant, key


if __name__ == "__main__":
    ingest_batch.create_tenant = create_tenant_with_entities  # type: ignore[assignment]
    original = ingest_batch.write_results
    ingest_batch.write_results = lambda name, quick, data: original(  # type: ignore[assignment]
        "ingest_entities", quick, data
    )
    sys.exit(ingest_batch.main())
