"""Grouping quality: replay real alert sets through ingest and score the incidents against truth.

Each data set in `../shared/data/alerts` is replayed in event-time order through the real
ingest service (`muster.alerts.ingest.ingest`, batches of `BATCH`, a fresh SQLite database
and tenant per data set and configuration) and the incidents muster builds are scored:

- excytin-sentinel-xdr: Sentinel `SecurityAlert` rows of Defender XDR, with the vendor's
  incident id (`ExtendedProperties.IncidentId`) removed first; truth = Defender's incidents
  (`expected_grouping.csv`): pairwise precision/recall/F1 and adjusted Rand index.
- ait-wazuh: Wazuh `alerts.json` of one multi-step attack; truth = inside an attack phase
  window (`spiral_attack_phases.json`) or not.
- ait-ads: the AIT alert data set (two scenarios, one attack each), scored twice: against
  `time_label` (an attack phase, or `false_positive`: "time labels") and against the event
  labels (`EVENT_LABELS`: attack when AIT tied the alert to an attack step, or its detection
  fires on that host only during the attack). Rows are mapped to muster alerts here: `name`
  is the rule, its prefix the source, `host` the host and `ip` (the host's address) an ip
  entity.

For the labelled sets the scores are attack concentration and attack/noise separation
(`cluster_metrics.separation`) and the reduction ratio (alerts per incident). Two
configurations: the default key rules, and the defaults with the "Shared entities" rule on.

    .venv/bin/python bench/grouping_quality.py [--sets xdr,wazuh,ait-ads]

writes bench/results/grouping_quality.json and the tables of docs/grouping-quality.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cluster_metrics import adjusted_rand_index, pairwise, separation
from harness import RESULTS, ROOT, log, machine_info, table
from muster.alerts.ingest import ingest
from muster.config import Settings
from muster.db import SystemContext, TenantContext, unit_of_work
from muster.db.engine import create_db_engine
from muster.db.migrate import upgrade
from muster.grouping.schemas import GroupingRuleUpdate
from muster.grouping.service import update_rule
from muster.incidents.lifecycle import Actor
from muster.models import GroupingRule
from muster.tenants.schemas import TenantCreate
from muster.tenants.service import create_tenant

DATA = ROOT.parent / "shared" / "data" / "alerts"
DOC = ROOT / "docs" / "grouping-quality.md"
BATCH = 500
ACTOR = Actor("apikey", "grouping-quality", "bench")
ENTITY_RULE = "Shared entities"


@dataclass
class Replay:
    """A data set ready to replay: payloads in event-time order and one truth per payload."""

    name: str
    payloads: list[dict[str, Any]]
    truth: list[Any]
    labelled: bool  # truth is attack (True) / noise (False) rather than an incident
    # further attack/noise truths of a labelled set, scored under "<name> (<truth name>)"
    more_truths: dict[str, list[bool]] = field(default_factory=dict)


def xdr() -> Replay:
    """Defender XDR alerts (Sentinel rows) without the vendor incident id; truth = incidents."""
    base = DATA / "excytin-sentinel-xdr"
    with (base / "expected_grouping.csv").open() as f:
        truth = {r["SystemAlertId"]: r["IncidentNumber"] for r in csv.DictReader(f)}
    rows = [json.loads(line) for line in (base / "security_alerts.jsonl").open()]
    for row in rows:
        props = json.loads(row.get("ExtendedProperties") or "{}")
        props.pop("IncidentId", None)
        row["ExtendedProperties"] = json.dumps(props)
    rows = [r for r in rows if r["SystemAlertId"] in truth]
    rows.sort(key=lambda r: (r["StartTime"], r["TimeGenerated"]))
    return Replay("excytin-sentinel-xdr", rows, [truth[r["SystemAlertId"]] for r in rows], False)


def wazuh() -> Replay:
    """AIT Wazuh alerts of one attack; truth = inside an attack phase window."""
    base = DATA / "ait-wazuh"
    phases = json.loads((base / "spiral_attack_phases.json").read_text())["phases"]
    windows = [(_instant(a), _instant(b)) for a, b in phases.values()]
    rows = [json.loads(line) for line in (base / "ossec_spiral.jsonl").open() if line.strip()]
    rows.sort(key=lambda r: r["timestamp"])
    truth = [any(a < _instant(r["timestamp"]) < b for a, b in windows) for r in rows]
    return Replay("ait-wazuh", rows, truth, True)


def ait_ads(scenario: str) -> Replay:
    """One AIT-ADS scenario as muster alerts; truth = labelled with an attack phase."""
    path = DATA / "ait-ads" / f"{scenario}_attack_window.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    rows.sort(key=lambda r: int(r["time"]))
    payloads = []
    for number, row in enumerate(rows):
        source, _, _ = row["name"].partition(":")
        payloads.append(
            {
                "ruleName": row["name"],
                "source": source.strip().lower(),
                "externalId": f"{scenario}-{number}",
                "hostname": row["host"],
                "entities": [{"type": "ip", "value": row["ip"]}],
                "createdAt": datetime.fromtimestamp(int(row["time"]), UTC).isoformat(),
            }
        )
    truth = [row["time_label"] != "false_positive" for row in rows]
    return Replay(f"ait-ads/{scenario}", payloads, truth, True, {EVENT_LABELS: event_truth(rows)})


EVENT_LABELS = "event labels"


def event_truth(rows: list[dict[str, str]]) -> list[bool]:
    """Attack when AIT tied the alert to an attack step (`event_label`), or when it falls in
    an attack phase and its detection never fires on that host as an untied false positive.
    A routine detection (Dovecot logins on a mail server) keeps firing through an attack
    phase; `time_label` calls those alerts attack by their time alone."""
    routine = {
        (r["name"], r["host"])
        for r in rows
        if r["time_label"] == "false_positive" and r["event_label"] == "-"
    }
    return [
        r["event_label"] != "-"
        or (r["time_label"] != "false_positive" and (r["name"], r["host"]) not in routine)
        for r in rows
    ]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


SETS: dict[str, Callable[[], list[Replay]]] = {
    "xdr": lambda: [xdr()],
    "wazuh": lambda: [wazuh()],
    "ait-ads": lambda: [ait_ads("russellmitchell"), ait_ads("santos")],
}


@dataclass(frozen=True)
class Config:
    """A rule set to replay under: the defaults, with the entities rule on or off, and
    optionally every rule's maxAlerts raised or a quiet gap (maxGapSeconds) set."""

    name: str
    entities: bool
    max_alerts: int | None = None
    max_gap_seconds: int | None = None


CONFIGS = (
    Config("default keys", False),
    Config("keys + entities", True),
    Config("keys + entities, maxAlerts 100k", True, 100_000),
    Config("keys + entities, quiet gap 10 min", True, None, 600),
    Config("keys + entities, quiet gap 1 h", True, None, 3600),
)


def replay(data: Replay, config: Config, workdir: Path) -> tuple[list[str], float]:
    """Ingest `data` into a fresh database; return each payload's incident id and the time."""
    path = workdir / f"{data.name.replace('/', '_')}-{CONFIGS.index(config)}.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    upgrade(settings)
    db = create_db_engine(settings)
    try:
        now = datetime.now(UTC)
        with unit_of_work(db, SystemContext(), write=True) as session:
            tenant = create_tenant(session, TenantCreate(name="quality"), now).id
        with unit_of_work(db, TenantContext(tenant), write=True) as session:
            for rule in session.scalars(select(GroupingRule)):
                change: dict[str, Any] = {}
                if rule.name == ENTITY_RULE and config.entities:
                    change["enabled"] = True
                if config.max_alerts is not None:
                    change["max_alerts"] = config.max_alerts
                if config.max_gap_seconds is not None:
                    change["max_gap_seconds"] = config.max_gap_seconds
                if change:
                    update_rule(session, rule.id, GroupingRuleUpdate(**change), now)
        incidents: list[str] = []
        started = time.perf_counter()
        for batch in _batches(data.payloads):
            with unit_of_work(db, TenantContext(tenant), write=True) as session:
                report = ingest(session, batch, ACTOR, datetime.now(UTC))
            incidents += [str(item.incident_id) for item in report.items]
        return incidents, time.perf_counter() - started
    finally:
        db.dispose()


def _batches(payloads: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(payloads), BATCH):
        yield payloads[start : start + BATCH]


def score(
    data: Replay, incidents: list[str], seconds: float, truth: list[Any] | None = None
) -> dict[str, Any]:
    """The figures of one replay (against `truth`, by default the set's own)."""
    truth = data.truth if truth is None else truth
    figures: dict[str, Any] = {
        "alerts": len(incidents),
        "incidents": len(set(incidents)),
        "reduction": round(len(incidents) / len(set(incidents)), 2),
        "seconds": round(seconds, 2),
    }
    if data.labelled:
        sep = separation(incidents, truth)
        figures.update({k: _round(v) for k, v in asdict(sep).items() if k != "alerts"})
        figures["attack_alerts"] = sum(truth)
    else:
        pw = pairwise(incidents, truth)
        figures.update(
            precision=_round(pw.precision),
            recall=_round(pw.recall),
            f1=_round(pw.f1),
            ari=_round(adjusted_rand_index(incidents, truth)),
            true_incidents=len(set(truth)),
        )
    return figures


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def render(results: dict[str, dict[str, Any]], command: str) -> str:
    """The tables of docs/grouping-quality.md."""
    vendor = [["data set", "rules", "alerts", "incidents (truth)", "P", "R", "F1", "ARI"]]
    labelled = [
        [
            "data set",
            "rules",
            "alerts (attack)",
            "incidents",
            "reduction",
            "attack incidents",
            "attack in top 3",
            "mixed incidents",
            "noise with attack",
            "attack-led incidents",
            "noise in attack-led",
            "attack outside them",
        ]
    ]
    for name, configs in results.items():
        for config, f in configs.items():
            if "precision" in f:
                vendor.append(
                    [
                        name,
                        config,
                        str(f["alerts"]),
                        f"{f['incidents']} ({f['true_incidents']})",
                        f"{f['precision']:.3f}",
                        f"{f['recall']:.3f}",
                        f"{f['f1']:.3f}",
                        f"{f['ari']:.3f}",
                    ]
                )
            else:
                labelled.append(
                    [
                        name,
                        config,
                        f"{f['alerts']} ({f['attack_alerts']})",
                        str(f["incidents"]),
                        f"{f['reduction']:.1f}x",
                        str(f["attack_incidents"]),
                        f"{f['attack_share_top3']:.1%}",
                        str(f["mixed_incidents"]),
                        f"{f['noise_with_attack']:.1%}",
                        str(f["attack_led"]),
                        f"{f['noise_in_attack_led']:.1%}",
                        f"{f['attack_outside_led']:.1%}",
                    ]
                )
    return (
        f"Command: `{command}`\n\n"
        "Against the vendor's incidents (pairwise precision, recall, F1; adjusted Rand index):\n\n"
        f"{table(vendor[0], vendor[1:])}\n\n"
        "Against attack/noise labels:\n\n"
        f"{table(labelled[0], labelled[1:])}\n"
    )


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def write_doc(tables: str) -> None:
    """Replace the generated part of docs/grouping-quality.md (between the markers)."""
    text = DOC.read_text() if DOC.exists() else f"# Grouping quality\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{tables}{END}{tail}")
    log(f"wrote {DOC.relative_to(ROOT)}")


def main() -> int:
    """Replay the chosen data sets under both configurations and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma list of {', '.join(SETS)}")
    args = parser.parse_args()
    if not DATA.is_dir():
        log(f"{DATA} is absent: nothing to replay")
        return 1
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="muster-quality-") as tmp:
        for set_name in args.sets.split(","):
            for data in SETS[set_name]():
                truths = {data.name: data.truth} | {
                    f"{data.name} ({name})": truth for name, truth in data.more_truths.items()
                }
                for config in CONFIGS:
                    incidents, seconds = replay(data, config, Path(tmp))
                    for name, truth in truths.items():
                        figures = score(data, incidents, seconds, truth)
                        results.setdefault(name, {})[config.name] = figures
                        log(f"{name} [{config.name}]: {figures}")
    command = ".venv/bin/python bench/grouping_quality.py" + (
        f" --sets {args.sets}" if args.sets != ",".join(SETS) else ""
    )
    tables = render(results, command)
    print(tables)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "grouping_quality.json"
    out.write_text(
        json.dumps(
            {"benchmark": "grouping_quality", "machine": machine_info(), "results": results},
            indent=2,
        )
        + "\n"
    )
    log(f"wrote {out.relative_to(ROOT)}")
    write_doc(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
