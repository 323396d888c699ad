"""A tenant's generated environment (people, hosts, addresses) and what a rule fires on.

Addresses follow a plausible plan: workstations in 10.<site>.<department vlan>.0/24, Windows
servers in 10.<site>.1.0/24, Linux servers in a 172.16/12 DMZ. DNS goes to well-known public
resolvers; every other outside party uses the documentation ranges (RFC 5737), which look
public but belong to nobody, so the demo accuses no real address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from muster.demo import catalog
from muster.demo.catalog import RuleTemplate

INBOUND_PORTS = frozenset({22, 8080})
LATERAL_PORTS = frozenset({80, 445})


@dataclass(frozen=True, slots=True)
class Person:
    """An employee of the tenant (not a muster user): display name and sign-in name."""

    name: str
    login: str
    upn: str


@dataclass(frozen=True, slots=True)
class Host:
    """A machine: short name, fully qualified name, address and operating system."""

    name: str
    fqdn: str
    ip: str
    os: Literal["windows", "linux"]


@dataclass(frozen=True, slots=True)
class Target:
    """What one episode is about: a host, a person, the other party's address, direction."""

    host: Host | None
    person: Person | None
    peer_ip: str | None = None
    inbound: bool = False


@dataclass(frozen=True, slots=True)
class Environment:
    """Everything alerts of one tenant can refer to; `workstations[i]` belongs to `people[i]`."""

    domain: str
    people: tuple[Person, ...]
    workstations: tuple[Host, ...]
    servers: tuple[Host, ...]
    external: tuple[str, ...]

    def of(self, os: str) -> tuple[Host, ...]:
        """The servers running `os`."""
        return tuple(host for host in self.servers if host.os == os)


def build_environment(rng: random.Random, domain: str) -> Environment:
    """Fifteen to fifty people with a workstation each, ten servers, a dozen outside parties."""
    site = rng.randint(1, 250)
    names = rng.sample(
        [(f, last) for f in catalog.FIRST_NAMES for last in catalog.LAST_NAMES], rng.randint(15, 50)
    )
    people = tuple(_person(first, last, domain) for first, last in names)
    workstations = tuple(_workstation(rng, site, domain, i) for i in range(len(people)))
    windows = [
        Host(name, f"{name}.corp.{domain}", f"10.{site}.1.{10 + i}", "windows")
        for i, name in enumerate(rng.sample(catalog.WINDOWS_SERVERS, 5))
    ]
    linux = [
        Host(name, f"{name}.dmz.{domain}", f"172.{16 + site % 16}.20.{10 + i}", "linux")
        for i, name in enumerate(rng.sample(catalog.LINUX_SERVERS, 5))
    ]
    external = tuple(
        sorted({rng.choice(catalog.EXTERNAL_NETS) + str(rng.randint(1, 254)) for _ in range(12)})
    )
    return Environment(domain, people, workstations, tuple(windows + linux), external)


def _person(first: str, last: str, domain: str) -> Person:
    """A person with a first.last login and a UPN in the tenant's domain."""
    login = f"{first}.{last}".lower()
    return Person(f"{first} {last}", login, f"{login}@{domain}")


def _workstation(rng: random.Random, site: int, domain: str, index: int) -> Host:
    """A laptop or desktop in a department VLAN, named the way IT names them."""
    dept = rng.randrange(len(catalog.DEPARTMENTS))
    kind = "lt" if rng.random() < 0.6 else "ws"
    name = f"{kind}-{catalog.DEPARTMENTS[dept]}-{rng.randint(100, 9999):04d}"
    return Host(
        name, f"{name}.corp.{domain}", f"10.{site}.{20 + dept}.{10 + index % 240}", "windows"
    )


def pick_target(rng: random.Random, env: Environment, rule: RuleTemplate) -> Target:
    """A target that fits the rule: its kind, its platform and its traffic direction."""
    if rule.kind == "identity":
        return Target(None, rng.choice(env.people), rng.choice(env.external))
    if rule.kind == "network":
        return _network_target(rng, env, rule.port)
    if rule.image.startswith("/"):
        person = rng.choice(env.people) if rng.random() < 0.5 else None
        return Target(rng.choice(env.of("linux")), person)
    if rng.random() < 0.8:
        index = rng.randrange(len(env.people))
        return Target(env.workstations[index], env.people[index])
    return Target(rng.choice(env.of("windows")), rng.choice(env.people))


def _network_target(rng: random.Random, env: Environment, port: int) -> Target:
    """Inbound attacks hit DMZ servers; lateral traffic goes to Windows servers; else out."""
    if port in INBOUND_PORTS:
        return Target(rng.choice(env.of("linux")), None, rng.choice(env.external), True)
    source = rng.choice(env.workstations)
    if port in LATERAL_PORTS:
        return Target(source, None, rng.choice(env.of("windows")).ip)
    if port == 53:
        return Target(source, None, rng.choice(catalog.PUBLIC_RESOLVERS))
    return Target(source, None, rng.choice(env.external))
