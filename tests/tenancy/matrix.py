"""The isolation matrix, generated from the app's route table and `route_table`.

`app_routes(app)` walks every route of the app, into the mounted compatible APIs and the web
console. `calls(method, path, case)` turns one table entry into variants: each object slot in
turn (then all of them at once) holds tenant A's object while the others hold tenant B's own.
`Caller.check` sends a variant as tenant B twice, with A's ids and with never-used ids, and
reports every way the answers differ from the API's own "not found", differ from each other
(after the ids sent are blanked out), or mention anything of A's.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from tests.tenancy.route_table import FIXED, PARAM_KINDS, Case
from tests.tenancy.test_audit import flat_routes
from tests.tenancy.world import API_VERSION, World

from muster.auth.keys import client_credentials
from muster.ids import HASH_ALPHABET, new_id
from muster.models.enums import Role

PATH_PARAM = re.compile(r"{([^}]+)}")
# headers that differ between any two answers
VOLATILE_HEADERS = {"date", "content-length", "x-request-id", "server"}
VOLATILE_FIELDS = {"requestId", "timestamp"}  # ContraForce v2 problem documents


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD left out)."""
    return {
        (method, path)
        for methods, path, _ in flat_routes(app.routes)
        for method in methods.split(",")
        if method != "HEAD"
    }


@dataclass(frozen=True)
class Api:
    """One of the app's APIs: where it lives and how it refuses another tenant."""

    name: str
    prefix: str
    tenant_status: int  # the answer when a tenant slot names another tenant


APIS = (
    Api("beta", "/api/beta/partners", 404),
    Api("v2", "/api/v2", 403),  # INSUFFICIENT_WORKSPACE_ROLE, as for a workspace that is not there
    Api("sentinel", "/subscriptions", 404),
    Api("web", "/ui", 404),
    Api("native", "", 404),
)


def api_of(path: str) -> Api:
    """The API a path belongs to."""
    return next(api for api in APIS if path == api.prefix or path.startswith(api.prefix + "/"))


def kind_of(slot: str, case: Case) -> str:
    """The kind of a slot; KeyError names a parameter the table does not know."""
    if slot in case.slots:
        return case.slots[slot]
    if slot in PARAM_KINDS:
        return PARAM_KINDS[slot]
    if slot in FIXED:
        return slot
    raise KeyError(f"path parameter {{{slot}}} is not in route_table.PARAM_KINDS or FIXED")


def slots_of(path: str, case: Case) -> dict[str, str]:
    """slot -> kind of every path parameter and every body/query slot of a case."""
    names = [*PATH_PARAM.findall(path), *case.slots]
    return {name: kind_of(name, case) for name in dict.fromkeys(names)}


@dataclass(frozen=True)
class Variant:
    """One call: the slots set to another tenant's (or no one's) value, and its answer."""

    foreign: tuple[str, ...]
    expect: int
    creates: bool


def variants(path: str, case: Case) -> list[Variant]:
    """Each object slot alone, then all of them together, with the expected status."""
    kinds = slots_of(path, case)
    objects = [s for s, k in kinds.items() if k not in FIXED]
    chosen = list(case.vary) if case.vary is not None else objects
    tenant_status = api_of(path).tenant_status
    out = []
    for slot in chosen:
        default = tenant_status if kinds[slot] == "tenant" else 404
        out.append(Variant((slot,), case.expect.get(slot, default), slot in case.creates))
    if len(chosen) > 1:
        in_tenant = any(kinds[s] == "tenant" for s in chosen)  # refused before anything else
        default = tenant_status if in_tenant else 404
        creates = bool(set(case.creates) & set(chosen)) and not in_tenant
        out.append(Variant(tuple(chosen), case.expect.get("*", default), creates))
    return out


def unknown(kind: str) -> str:
    """A value of `kind` that names nothing at all."""
    if kind in ("hash", "hash2"):
        code = "".join(random.choice(HASH_ALPHABET) for _ in range(8))
        return f"{code[:4]}-{code[4:]}"
    if kind == "relation":
        return f"rel-{uuid.uuid4().hex[:10]}"
    if kind == "playbook_name":
        return f"pb-{uuid.uuid4().hex[:10]}"
    if kind == "email":
        return f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    return str(new_id())


def blanked(text: str, sent: Mapping[str, str]) -> str:
    """`text` with every value sent replaced by its slot's name."""
    for slot, value in sent.items():
        text = text.replace(value, f"<{slot}>")
    return text


def comparable(resp: httpx.Response, sent: Mapping[str, str]) -> tuple[Any, ...]:
    """The answer with the ids sent blanked out and per-request values dropped."""
    text = blanked(resp.text, sent)
    if "json" in resp.headers.get("content-type", "") and text:
        text = json.dumps(_steady(json.loads(text)), sort_keys=True)
    headers = {
        name: blanked(value, sent)
        for name, value in resp.headers.items()
        if name not in VOLATILE_HEADERS
    }
    return resp.status_code, text, sorted(headers.items())


def _steady(data: Any) -> Any:
    """A JSON document without its per-request fields, however deep."""
    if isinstance(data, dict):
        return {k: _steady(v) for k, v in data.items() if k not in VOLATILE_FIELDS}
    if isinstance(data, list):
        return [_steady(v) for v in data]
    return data


def leaks(resp: httpx.Response, sent: Mapping[str, str], secrets: Iterable[str]) -> list[str]:
    """Every secret the answer mentions beyond the values the caller sent."""
    text = blanked(resp.text + "\n" + "\n".join(resp.headers.values()), sent)
    return sorted(s for s in secrets if s in text)


def format_problem(api: Api, resp: httpx.Response, status: int) -> str | None:
    """What is wrong with an error answer in the API's own format (None: nothing)."""
    kind = resp.headers.get("content-type", "")
    if api.name == "web":
        return None if kind.startswith("text/html") else f"not an HTML page: {kind}"
    body = resp.json()
    if api.name == "beta":
        ok = set(body) == {"message", "isSuccess"} and body["isSuccess"] is False
    elif api.name == "sentinel":
        codes = {404: "NotFound", 403: "Forbidden"}
        ok = set(body) == {"error"} and body["error"]["code"] == codes.get(status, "BadRequest")
    elif api.name == "v2":
        codes = {404: "NOT_FOUND", 403: "INSUFFICIENT_WORKSPACE_ROLE"}
        expected = codes.get(status, "VALIDATION_ERROR")
        ok = kind.startswith("application/problem+json") and body.get("code") == expected
    else:
        ok = (
            kind.startswith("application/problem+json")
            and {"type", "title", "status", "detail", "instance", "code"} <= set(body)
            and (status != 404 or str(body["code"]).endswith("not_found"))
        )
    return None if ok else f"not {api.name}'s own error format: {kind} {resp.text[:300]}"


@dataclass
class Caller:
    """Tenant B, calling every API: its admin key and a logged-in console session."""

    http: httpx.Client
    web: httpx.Client
    csrf: str
    own: World

    def send(self, method: str, path: str, case: Case, values: Mapping[str, str]) -> httpx.Response:
        """Call `path` (a template) with the slot values, authenticated the API's way."""
        url = path.format(**{name: values[name] for name in PATH_PARAM.findall(path)})
        query = dict(case.query(values)) if case.query else {}
        body = case.json(values) if case.json else None
        key = self.own.tenant.keys[Role.TENANT_ADMIN]
        api = api_of(path).name
        if api == "web":
            form = {**(case.form(values) if case.form else {}), "csrf_token": self.csrf}
            data = form if method != "GET" else None
            return self.web.request(method, url, params=query, data=data)
        headers: dict[str, str] = {"Authorization": f"Bearer {key}"}
        auth: tuple[str, str] | None = None
        if api == "beta":
            headers = {"x-api-key": key}
        elif api == "v2":
            headers, auth = {}, client_credentials(key)
        elif api == "sentinel":
            query.setdefault("api-version", API_VERSION)
        return self.http.request(method, url, params=query, json=body, headers=headers, auth=auth)

    def values(self, path: str, case: Case, chosen: Mapping[str, str]) -> dict[str, str]:
        """B's own object in every slot, FIXED values, and `chosen` over them."""
        out: dict[str, str] = {}
        for slot, kind in slots_of(path, case).items():
            out[slot] = FIXED[kind] if kind in FIXED else self.own.ids[kind]
        return {**out, **chosen}

    def check(self, method: str, path: str, case: Case, victim: World) -> Iterator[str]:
        """Every problem with B's answers to `case` naming A's objects (see the module)."""
        kinds = slots_of(path, case)
        api = api_of(path)
        for variant in variants(path, case):
            where = f"{method} {path} with A's {'+'.join(variant.foreign)}"
            theirs = {s: victim.ids[kinds[s]] for s in variant.foreign}
            resp = self.send(method, path, case, self.values(path, case, theirs))
            if resp.status_code != variant.expect:
                yield f"{where}: {resp.status_code} not {variant.expect}: {resp.text[:300]}"
                continue
            if variant.expect >= 400 and (problem := format_problem(api, resp, variant.expect)):
                yield f"{where}: {problem}"
            if found := leaks(resp, theirs, victim.secrets):
                yield f"{where}: reveals {found}: {resp.text[:300]}"
            if variant.creates:
                continue
            nobody = {s: unknown(kinds[s]) for s in variant.foreign}
            other = self.send(method, path, case, self.values(path, case, nobody))
            if comparable(resp, theirs) != comparable(other, nobody):
                yield (
                    f"{where}: differs from an unknown id's answer: "
                    f"{resp.status_code} {blanked(resp.text, theirs)[:300]} / "
                    f"{other.status_code} {blanked(other.text, nobody)[:300]}"
                )
