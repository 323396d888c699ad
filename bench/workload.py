"""Realistic generated alerts, and raw rows shaped exactly like muster's tables.

Alerts: 50 detection rules (each owned by one of five products, with a category and an
ATT&CK technique), 300 hosts and 400 users with a skewed ("noisy host") distribution, unique
`externalId`s, entities, and a vendor-specific block that muster keeps only in `raw`.

Rows: tuples in the column order of the Alembic migration, encoded the way SQLAlchemy stores
them (SQLite: uuid as 32 hex chars, timestamps as naive UTC text, JSON as text; PostgreSQL:
native uuid / timestamptz, JSON as text), for raw bulk inserts (executemany or COPY).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from muster.sla.clock import SlaFacts, after_scan, due_times, next_check_at
from muster.sla.policy import DEFAULT_POLICY

SOURCES = (
    "Microsoft Defender for Endpoint",
    "CrowdStrike Falcon",
    "SentinelOne",
    "Palo Alto Cortex XDR",
    "Elastic Security",
)
TECHNIQUES = (
    ("Execution", "T1059.001", "Suspicious PowerShell"),
    ("Credential Access", "T1003.001", "LSASS memory access"),
    ("Persistence", "T1547.001", "Run key persistence"),
    ("Lateral Movement", "T1021.002", "SMB admin share use"),
    ("Discovery", "T1087", "Account discovery"),
    ("Command and Control", "T1071.001", "Beaconing over HTTPS"),
    ("Defense Evasion", "T1562.001", "Security tool tampering"),
    ("Initial Access", "T1566.001", "Malicious attachment opened"),
    ("Exfiltration", "T1041", "Large upload to rare domain"),
    ("Impact", "T1486", "Ransomware-like file renames"),
    ("Privilege Escalation", "T1068", "Exploit for privilege escalation"),
    ("Collection", "T1005", "Sensitive files staged"),
)
CATEGORIES = ("Malware", "Suspicious activity", "Credential theft", "Exploit", "Policy")


@dataclass(frozen=True, slots=True)
class DetectionRule:
    """One of the generated detection rules."""

    name: str
    source: str
    category: str
    tactic: str
    technique: str
    severity: int


def detection_rules(count: int = 50) -> list[DetectionRule]:
    """`count` distinct, stable detection rules."""
    rng = random.Random(7)
    rules = []
    for i in range(count):
        tactic, technique, label = TECHNIQUES[i % len(TECHNIQUES)]
        rules.append(
            DetectionRule(
                name=f"{label} #{i + 1:02d}",
                source=SOURCES[i % len(SOURCES)],
                category=CATEGORIES[i % len(CATEGORIES)],
                tactic=tactic,
                technique=technique,
                severity=rng.choice((1, 2, 2, 3, 3, 3, 4)),
            )
        )
    return rules


RULES = detection_rules()
HOSTS = tuple(
    f"ws-{i:04d}.corp.example" if i % 5 else f"srv-{i:04d}.dc1.corp.example" for i in range(300)
)
USERS = tuple(f"user{i:03d}@corp.example" for i in range(400))
_HOST_CUM = list(itertools.accumulate(1 / (i + 1) ** 0.7 for i in range(len(HOSTS))))
_RULE_CUM = list(itertools.accumulate(1 / (i + 1) ** 0.5 for i in range(len(RULES))))
_HOST_INDEX = range(len(HOSTS))


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with a Z, as detection products send it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AlertFactory:
    """Generates alert payloads (API field names); deterministic for a given seed."""

    def __init__(self, seed: int, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.prefix = prefix
        self.counter = 0

    def pick(self) -> tuple[DetectionRule, str, str]:
        """A (rule, host, user) triple with the benchmark's skew."""
        rule = self.rng.choices(RULES, cum_weights=_RULE_CUM)[0]
        host_index = self.rng.choices(_HOST_INDEX, cum_weights=_HOST_CUM)[0]
        user = USERS[(host_index * 7 + self.rng.randrange(3)) % len(USERS)]
        return rule, HOSTS[host_index], user

    def payload(
        self, at: datetime, picked: tuple[DetectionRule, str, str] | None = None
    ) -> dict[str, Any]:
        """One alert as a product would POST it (createdAt = `at`)."""
        rule, host, user = picked or self.pick()
        rng = self.rng
        self.counter += 1
        external_id = f"{self.prefix}-{self.counter:09d}"
        octet = HOSTS.index(host) % 250 + 1 if rng.random() < 0.05 else rng.randrange(1, 254)
        digest = f"{rng.getrandbits(256):064x}"
        return {
            "ruleName": rule.name,
            "source": rule.source,
            "externalId": external_id,
            "severity": max(0, min(4, rule.severity + rng.choice((-1, 0, 0, 0, 1)))),
            "category": rule.category,
            "description": f"{rule.name} observed on {host} for {user}",
            "hostname": host,
            "username": user,
            "srcIp": f"10.{octet % 16}.{octet}.{rng.randrange(1, 254)}",
            "destIp": f"203.0.113.{rng.randrange(1, 254)}",
            "destPort": rng.choice((443, 445, 3389, 8080, 53)),
            "mitreTactic": rule.tactic,
            "mitreTechnique": rule.technique,
            "initiatorPath": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "initiatorCmd": f"powershell.exe -enc {digest[:40]}",
            "initiatorHash": digest,
            "tags": ["bench", rule.category.lower().replace(" ", "-")],
            "entities": [{"type": "host", "value": host}, {"type": "account", "value": user}],
            "createdAt": iso(at),
            "vendor": {
                "tenantRef": "bench",
                "confidence": rng.randrange(50, 100),
                "sensorId": f"sensor-{rng.randrange(10_000):05d}",
            },
        }

    def batch(self, size: int, now: datetime, spread_s: float = 300.0) -> list[dict[str, Any]]:
        """`size` alerts with event times in the `spread_s` seconds before `now`."""
        return [
            self.payload(now - timedelta(seconds=self.rng.random() * spread_s)) for _ in range(size)
        ]


# --------------------------------------------------------------------------- row encoding

ALERT_COLUMNS = (
    "id",
    "tenant_id",
    "incident_id",
    "external_id",
    "dedup_key",
    "rule_name",
    "description",
    "source",
    "category",
    "severity",
    "action",
    "hostname",
    "src_hostname",
    "src_ip",
    "src_port",
    "dest_hostname",
    "dest_ip",
    "dest_port",
    "username",
    "initiated_by",
    "initiator_path",
    "initiator_cmd",
    "initiator_signature",
    "initiator_signer",
    "initiator_hash",
    "mitre_tactic",
    "mitre_technique",
    "tags",
    "raw_event_dataset",
    "raw_event_id",
    "entities",
    "occurrences",
    "last_seen_at",
    "grouping_reason",
    "raw",
    "created_at",
    "updated_at",
)

INCIDENT_COLUMNS = (
    "id",
    "tenant_id",
    "number",
    "incident_hash",
    "description",
    "details",
    "severity",
    "assignee",
    "assignee_name",
    "status",
    "resolution",
    "resolution_reason",
    "resolution_comment",
    "source",
    "mitre_tactic",
    "mitre_technique",
    "grouping_allowed",
    "exclude_from_sla",
    "responded_at",
    "resolved_at",
    "tags",
    "soar_process_id",
    "soar_status",
    "soar_timeout",
    "grouping_key",
    "grouping_rule",
    "alert_count",
    "first_alert_at",
    "last_alert_at",
    "version",
    "created_at",
    "updated_at",
    "response_due_at",
    "resolution_due_at",
    "sla_raised",
    "sla_next_at",
)


class Codec:
    """Encodes Python values the way muster's column types store them on one dialect."""

    def __init__(self, kind: str) -> None:
        self.sqlite = kind == "sqlite"

    def id(self, value: uuid.UUID | None) -> Any:
        """A uuid column value."""
        if value is None:
            return None
        return value.hex if self.sqlite else value

    def ts(self, value: datetime | None) -> Any:
        """A UTCDateTime column value."""
        if value is None:
            return None
        if self.sqlite:  # SQLAlchemy's SQLite format: naive UTC, always with microseconds
            if value.utcoffset():
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def flag(self, value: bool) -> Any:
        """A boolean column value."""
        return int(value) if self.sqlite else value

    @staticmethod
    def json(value: Any) -> str | None:
        """A JSON column value (text; PostgreSQL casts it to json)."""
        return None if value is None else orjson.dumps(value).decode()


def uuid7(at: datetime, rng: random.Random) -> uuid.UUID:
    """A time-ordered id like muster's `new_id`, for time `at`."""
    ms = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = ms << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


def dedup_key(source: str, external_id: str) -> str:
    """muster's dedup key for an alert with an externalId (128 bits of SHA-256, as hex)."""
    return hashlib.sha256(f"id\x1f{source}\x1f{external_id}".encode()).hexdigest()[:32][:32]


def alert_row(
    codec: Codec,
    payload: Mapping[str, Any],
    *,
    alert_id: uuid.UUID,
    tenant_id: uuid.UUID,
    incident_id: uuid.UUID | None,
    reason: Mapping[str, Any] | None,
    now: datetime,
    at: datetime | None = None,
) -> tuple[Any, ...]:
    """The stored row of `payload` (raw = the payload's JSON text; `at` = its createdAt)."""
    if at is None:
        at = datetime.fromisoformat(payload["createdAt"].replace("Z", "+00:00"))
    return (
        codec.id(alert_id),
        codec.id(tenant_id),
        codec.id(incident_id),
        payload["externalId"],
        dedup_key(payload["source"], payload["externalId"]),
        payload["ruleName"],
        payload["description"],
        payload["source"],
        payload["category"],
        payload["severity"],
        "Detected",
        payload["hostname"],
        None,
        payload["srcIp"],
        None,
        None,
        payload["destIp"],
        payload["destPort"],
        payload["username"],
        None,
        payload["initiatorPath"],
        payload["initiatorCmd"],
        None,
        None,
        payload["initiatorHash"],
        payload["mitreTactic"],
        payload["mitreTechnique"],
        codec.json(payload["tags"]),
        None,
        None,
        codec.json(payload["entities"]),
        1,
        codec.ts(now),
        codec.json(reason),
        codec.json(payload),
        codec.ts(at),
        codec.ts(now),
    )


def grouping_reason(
    rule_name: str, rule_id: str, rule: DetectionRule, host: str, number: int, attached: bool
) -> dict[str, Any]:
    """A grouping reason shaped like muster's."""
    values = {"source": rule.source, "ruleName": rule.name, "hostname": host}
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    detail = (
        f"joined incident #{number}: same {shown} within 24h"
        if attached
        else f"no open incident with {shown} within 24h; opened a new one"
    )
    return {
        "decision": "attached" if attached else "opened",
        "rule": rule_name,
        "ruleId": rule_id,
        "key": values,
        "detail": detail,
    }


HASH_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_HASH_SPACE = 32**8
_HASH_STEP = 0x9E3779B97  # odd, so i -> i * step mod 32**8 is a bijection


def incident_hash(index: int, salt: int) -> str:
    """A unique `XXXX-XXXX` hash for the index-th seeded incident (bijective, random-looking)."""
    value = (index * _HASH_STEP + salt) % _HASH_SPACE
    chars = []
    for _ in range(8):
        value, digit = divmod(value, 32)
        chars.append(HASH_ALPHABET[digit])
    text = "".join(chars)
    return f"{text[:4]}-{text[4:]}"


# --------------------------------------------------------------------------- bulk loading


def insert_rows(
    conn: Any, kind: str, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Bulk insert: sqlite3 executemany, or PostgreSQL COPY. Returns the row count."""
    check_columns(conn, kind, table, columns)
    count = 0
    if kind == "sqlite":
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= 20_000:
                conn.executemany(sql, chunk)
                count += len(chunk)
                chunk.clear()
        if chunk:
            conn.executemany(sql, chunk)
            count += len(chunk)
        return count
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def check_columns(conn: Any, kind: str, table: str, columns: Sequence[str]) -> None:
    """Fail loudly when the migration's columns and the benchmark's rows no longer match."""
    if kind == "sqlite":
        actual = {row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}
    else:
        actual = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND table_schema = current_schema()",
                (table,),
            ).fetchall()
        }
    if actual != set(columns):
        raise RuntimeError(
            f"{table}: the schema changed; missing in bench rows {sorted(actual - set(columns))}"
            f", unknown to the schema {sorted(set(columns) - actual)}"
        )


@dataclass(frozen=True)
class IndexDef:
    """A secondary index and the DDL that recreates it."""

    name: str
    ddl: str


def secondary_indexes(conn: Any, kind: str, table: str) -> list[IndexDef]:
    """The secondary indexes of `table` (not the primary key), as created by the migration."""
    if kind == "sqlite":
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? "
            "AND sql IS NOT NULL",
            (table,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
            "AND i.schemaname = current_schema() AND i.indexname NOT IN ("
            " SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            (table,),
        ).fetchall()
    return [IndexDef(name, ddl) for name, ddl in rows]


def drop_indexes(conn: Any, indexes: Sequence[IndexDef]) -> None:
    """Drop secondary indexes before a bulk load."""
    for index in indexes:
        conn.execute(f'DROP INDEX "{index.name}"')


def create_indexes(conn: Any, indexes: Sequence[IndexDef]) -> None:
    """Recreate the indexes exactly as they were."""
    for index in indexes:
        conn.execute(index.ddl)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to `size` items."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------- seeded incidents

ANALYSTS = tuple((f"analyst{i}@mssp.example", f"Analyst {i}") for i in range(8))
RESOLUTIONS = ("TRUE_POSITIVE", "BENIGN_POSITIVE", "FALSE_POSITIVE", "UNDETERMINED", "DUPLICATE")


def incident_status(rng: random.Random, age: timedelta) -> str:
    """Recent incidents are mostly open; old ones mostly resolved."""
    roll = rng.random()
    if age < timedelta(days=7):
        return "OPEN" if roll < 0.55 else "UNDER_INVESTIGATION" if roll < 0.8 else "RESOLVED"
    return "OPEN" if roll < 0.06 else "UNDER_INVESTIGATION" if roll < 0.08 else "RESOLVED"


def incident_rows(
    codec: Codec,
    tenant_id: uuid.UUID,
    count: int,
    now: datetime,
    span: timedelta,
    seed: int,
    hash_offset: int = 0,
) -> Iterator[tuple[Any, ...]]:
    """`count` incidents numbered 1..count, created evenly over `span` before `now`.

    Status by age (see `incident_status`), severity 1-4 (20/35/30/15 %), an assignee and
    `respondedAt` once worked on, `resolution` / `resolvedAt` when RESOLVED. Hashes are
    unique across calls whose `hash_offset` ranges do not overlap.
    """
    rng = random.Random(seed)
    start = now - span
    step = span / max(count, 1)
    tenant = codec.id(tenant_id)
    sev_weights = (20, 35, 30, 15)
    for i in range(count):
        created = start + step * i
        status = incident_status(rng, now - created)
        rule = RULES[i * 7919 % len(RULES)]
        severity = rng.choices((1, 2, 3, 4), sev_weights)[0]
        assignee = assignee_name = responded = resolved = resolution = None
        if status != "OPEN":
            assignee, assignee_name = ANALYSTS[rng.randrange(len(ANALYSTS))]
            responded = created + timedelta(minutes=rng.randrange(1, 240))
        if status == "RESOLVED":
            resolution = RESOLUTIONS[rng.randrange(len(RESOLUTIONS))]
            resolved = created + timedelta(hours=rng.randrange(1, 72))
        alerts = 1 + int(rng.expovariate(0.3))
        first = created - timedelta(seconds=rng.randrange(0, 60))
        last = created + timedelta(minutes=rng.randrange(0, 600))
        updated = resolved or responded or last
        version = 1 + (status != "OPEN") + (status == "RESOLVED")
        yield (
            codec.id(uuid7(created, rng)),
            tenant,
            i + 1,
            incident_hash(hash_offset + i, 0x5EED),
            rule.name,
            f"{rule.name} on {HOSTS[i % len(HOSTS)]}",
            severity,
            assignee,
            assignee_name,
            status,
            resolution,
            None,  # resolution_reason
            None,  # resolution_comment
            rule.source,
            rule.tactic,
            rule.technique,
            codec.flag(True),
            codec.flag(False),
            codec.ts(responded),
            codec.ts(resolved),
            "[]",
            None,
            "NOT_PROCESSED",
            None,
            f"{rng.getrandbits(128):032x}",
            "Same detection on the same host",
            alerts,
            codec.ts(first),
            codec.ts(last),
            version,
            codec.ts(created),
            codec.ts(updated),
            *sla_columns(codec, created, severity, responded, resolved, now),
        )


def sla_columns(
    codec: Codec,
    created: datetime,
    severity: int,
    responded: datetime | None,
    resolved: datetime | None,
    now: datetime,
) -> tuple[Any, ...]:
    """Due times under the default policy, and the flags and next check a caught-up SLA
    scheduler leaves (so a server started on the data has no backlog of SLA events)."""
    due = due_times(created, severity, DEFAULT_POLICY)
    facts = SlaFacts(created, due.response_due_at, due.resolution_due_at, responded, resolved)
    fraction = DEFAULT_POLICY.at_risk_fraction
    _, settled = after_scan(facts, fraction, now)
    following = next_check_at(settled, fraction)
    return (
        codec.ts(due.response_due_at),
        codec.ts(due.resolution_due_at),
        settled.raised,
        codec.ts(following),
    )


def raw_insert_batches(
    conn: Any,
    kind: str,
    table: str,
    batches: Sequence[Sequence[Any]],
    tenant: uuid.UUID,
    incident: uuid.UUID | None = None,
    random_incident: bool = True,
) -> list[float]:
    """The storage ceiling: insert the stored rows of `batches` (alert payloads) with the
    driver's executemany, one transaction per batch. Rows are encoded before timing.
    Returns the seconds each batch took."""
    check_columns(conn, kind, table, ALERT_COLUMNS)
    codec = Codec(kind)
    now = datetime.now(UTC)
    rng = random.Random(1)
    rule = RULES[0]
    reason = grouping_reason(
        "Same detection on the same host", str(uuid.uuid4()), rule, HOSTS[0], 123, True
    )
    prepared = [
        [
            alert_row(
                codec,
                payload,
                alert_id=uuid7(now, rng),
                tenant_id=tenant,
                incident_id=incident or (uuid7(now, rng) if random_incident else None),
                reason=reason,
                now=now,
            )
            for payload in batch
        ]
        for batch in batches
    ]
    ph = "?" if kind == "sqlite" else "%s"
    sql = (
        f"INSERT INTO {table} ({', '.join(ALERT_COLUMNS)}) "
        f"VALUES ({', '.join([ph] * len(ALERT_COLUMNS))})"
    )
    times = []
    for rows in prepared:
        start = time.perf_counter()
        if kind == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
            conn.commit()
        times.append(time.perf_counter() - start)
    return times
