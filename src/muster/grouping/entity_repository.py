"""The entity index and commonness counters of the session's tenant: bounded reads, bulk writes.

Per ingest batch: one query for the incidents holding the batch's entity keys (at most
`HOLDERS_PER_KEY` per key, the most recent, whose first alert is inside the longest entity
window, joined to the incident's current state) and one for those keys' commonness; at the
end one insert of the new (entity, incident) pairs and one upsert of the changed counters.
Prebuilt Core statements binding `tenant_id` explicitly, like `IncidentRepository`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from muster.alerts.entities import named_entities_of_row
from muster.db.tenancy import tenant_id_of
from muster.grouping.commonness import Seen
from muster.grouping.decision import Candidate, candidate_of
from muster.grouping.entity_batch import HOLDERS_PER_KEY, EntityBatch, Held, too_common
from muster.grouping.entity_keys import alert_keys, primary_subject
from muster.incidents.repository import POOL_COLUMNS
from muster.models import EntityCommonness, EntityIncident, Incident

INDEX: Table = EntityIncident.__table__  # type: ignore[assignment]
COMMONNESS: Table = EntityCommonness.__table__  # type: ignore[assignment]
INCIDENTS: Table = Incident.__table__  # type: ignore[assignment]
_i, _c = INDEX.c, INCIDENTS.c


def _most_recent(key: Any, *columns: str) -> Any:
    """`columns` of the index entries of one key (`key`, a column of the batch's key list)
    inside the window, newest incident first, at most `cap`: read off
    `ix_entity_incidents_lookup` from its newest end, so the cost does not grow with how many
    incidents hold the key."""
    recent = INDEX.alias("recent")
    return (
        select(
            *(
                literal_column("recent.rowid") if name == "rowid" else recent.c[name]
                for name in columns
            )
        )
        .select_from(recent)
        .where(
            recent.c.tenant_id == bindparam("tenant_id"),
            recent.c.entity_key == key,
            recent.c.first_alert_at >= bindparam("since"),
        )
        .order_by(recent.c.first_alert_at.desc(), recent.c.incident_id)
        .limit(bindparam("cap", type_=Integer))
    )


def _pg_holders() -> Any:
    """PostgreSQL: a lateral join per key of the batch (an array parameter)."""
    keys = (
        func.unnest(bindparam("keys", type_=postgresql.ARRAY(String)))
        .table_valued("value")
        .render_derived(name="batch_keys")
    )
    top = _most_recent(keys.c.value, "entity_key", "subject", "incident_id").lateral("top")
    return (
        select(top.c.entity_key, top.c.subject, *POOL_COLUMNS)
        .select_from(keys)
        .join(top, true())
        .join(INCIDENTS, _c.id == top.c.incident_id)
    )


def _json_keys() -> Any:
    """SQLite: the batch's keys, one JSON array parameter, as a table of `value`s."""
    return func.json_each(bindparam("keys_json", type_=String)).table_valued("value")


def _sqlite_holders() -> Any:
    """SQLite (no lateral joins): per key of the batch (a JSON array parameter), the rowids
    of its most recent entries, then those entries."""
    keys = _json_keys().alias("batch_keys")
    return (
        select(_i.entity_key, _i.subject, *POOL_COLUMNS)
        .select_from(keys)
        .join(
            INDEX,
            literal_column("entity_incidents.rowid").in_(
                _most_recent(keys.c.value, "rowid").scalar_subquery()
            ),
        )
        .join(INCIDENTS, _c.id == _i.incident_id)
    )


_HOLDERS = {"postgresql": _pg_holders(), "sqlite": _sqlite_holders()}
# Thousands of keys per batch: one array parameter on PostgreSQL, one JSON array on SQLite
# (an expanded IN would render and bind a parameter per key).
_JSON_KEYS = select(_json_keys().c.value).scalar_subquery()
_COMMONNESS_COLUMNS = (COMMONNESS.c.entity_key, COMMONNESS.c.subjects, COMMONNESS.c.prior)
_COMMONNESS = {
    "postgresql": select(*_COMMONNESS_COLUMNS, COMMONNESS.c.since).where(
        COMMONNESS.c.tenant_id == bindparam("tenant_id"),
        COMMONNESS.c.entity_key == any_(bindparam("keys", type_=postgresql.ARRAY(String))),
    ),
    "sqlite": select(*_COMMONNESS_COLUMNS, COMMONNESS.c.since).where(
        COMMONNESS.c.tenant_id == bindparam("tenant_id"),
        COMMONNESS.c.entity_key.in_(_JSON_KEYS),
    ),
}


def _upserts() -> dict[str, Any]:
    statements = {}
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite)):
        add_pair = dialect.insert(INDEX).on_conflict_do_nothing(
            index_elements=[_i.incident_id, _i.entity_key]
        )
        counted = dialect.insert(COMMONNESS)
        put_count = counted.on_conflict_do_update(
            index_elements=[COMMONNESS.c.tenant_id, COMMONNESS.c.entity_key],
            set_={
                "subjects": counted.excluded.subjects,
                "prior": counted.excluded.prior,
                "since": counted.excluded.since,
                "updated_at": counted.excluded.updated_at,
            },
        )
        statements[name] = (add_pair, put_count)
    return statements


_WRITES = _upserts()
_PAIR_COLUMNS = ("tenant_id", "incident_id", "entity_key", "first_alert_at", "subject")
_SQLITE_ADD_PAIRS = (
    f"INSERT OR IGNORE INTO entity_incidents ({', '.join(_PAIR_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"
)


def _pair_encoder(dialect: Any) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """One `entity_incidents` row as the driver's values (the columns' bind processors)."""
    processors = [
        (name, INDEX.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in _PAIR_COLUMNS
    ]

    def encode(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            process(row[name]) if process is not None else row[name] for name, process in processors
        )

    return encode


def _keys_param(dialect: str, keys: Collection[str]) -> dict[str, Any]:
    """The keys as the dialect's statement binds them."""
    if dialect == "sqlite":
        return {"keys_json": json.dumps(list(keys))}
    return {"keys": list(keys)}


class EntityRepository:
    """Reads and writes of entity-aware grouping for the session's tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tenant_id = tenant_id_of(session)

    def holders(
        self, keys: Collection[str], since: datetime
    ) -> tuple[list[Held], dict[uuid.UUID, Candidate], dict[uuid.UUID, tuple[int, str]]]:
        """The incidents holding each key whose first alert is after `since` (the most recent
        `HOLDERS_PER_KEY` per key, whatever their state): the index entries, the incidents
        as candidates, and each incident's (severity, incidentHash). One query."""
        if not keys:
            return [], {}, {}
        connection = self.session.connection()
        rows = connection.execute(
            _HOLDERS[connection.dialect.name],
            {
                "tenant_id": self.tenant_id,
                **_keys_param(connection.dialect.name, keys),
                "since": since,
                "cap": HOLDERS_PER_KEY,
            },
        )
        held: list[Held] = []
        incidents: dict[uuid.UUID, Candidate] = {}
        extras: dict[uuid.UUID, tuple[int, str]] = {}
        for row in rows:
            held.append(Held(row.entity_key, row.id, row.subject))
            if row.id not in incidents:
                incidents[row.id] = candidate_of(row[2:10], row.last_alert_at)
                extras[row.id] = (row.severity, row.incident_hash)
        return held, incidents, extras

    def commonness(self, keys: Collection[str]) -> dict[str, Seen]:
        """What is known of how common each key is (keys seen with one subject have none)."""
        if not keys:
            return {}
        connection = self.session.connection()
        rows = connection.execute(
            _COMMONNESS[connection.dialect.name],
            {"tenant_id": self.tenant_id, **_keys_param(connection.dialect.name, keys)},
        )
        return {row.entity_key: Seen(frozenset(row.subjects), row.prior, row.since) for row in rows}

    def save(
        self, index_rows: Sequence[Mapping[str, Any]], commonness_rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Add new (entity, incident) pairs (a pair already there is kept) and upsert
        changed commonness."""
        connection = self.session.connection()
        add_pair, put_count = _WRITES[connection.dialect.name]
        if index_rows and connection.dialect.name == "sqlite":
            # thousands of pairs a batch: the driver's executemany over encoded tuples
            encode = _pair_encoder(connection.dialect)
            connection.exec_driver_sql(_SQLITE_ADD_PAIRS, [encode(row) for row in index_rows])
        elif index_rows:
            connection.execute(add_pair, list(index_rows))
        if commonness_rows:
            connection.execute(put_count, list(commonness_rows))


def load_entity_batch(
    session: Session, rows: Sequence[Mapping[str, Any]], since: datetime
) -> tuple[EntityBatch, dict[uuid.UUID, Candidate], dict[uuid.UUID, tuple[int, str]]]:
    """The entity side of an ingest batch (snake_case alert rows): what each alert names
    and is about, how common those entities are, and the incidents since `since` holding
    the ones still worth looking up (as candidates, with their severity and hash). Two
    queries."""
    named = [alert_keys(named_entities_of_row(row)) for row in rows]
    repository = EntityRepository(session)
    every = {key.key for keys in named for key in keys}
    seen = repository.commonness(every)
    skipped = too_common(named, seen)
    held, incidents, extras = repository.holders(every - skipped, since)
    subjects = [primary_subject(row, keys) for row, keys in zip(rows, named, strict=True)]
    return EntityBatch(named, held, seen, subjects, skipped), incidents, extras
