"""One delivery attempt over HTTP, to an address that was checked (the DNS rebinding guard).

httpx would resolve the host itself, after any check of ours, and could get another answer. So
the sender resolves the host (`targets.resolve`), refuses the attempt when any address is
refused (`targets.refusal`, unless private targets are allowed), and connects to the checked
addresses themselves, in the resolver's order (the next on a connection failure, as a plain
connect would). The request keeps the original `Host` header, and for https the original name
as TLS server name (SNI) and for certificate verification (httpx's `sni_hostname` extension),
so virtual hosts and certificates work as with the name.

No redirects are followed, proxies from the environment are ignored, and no connection is kept
alive (a pooled connection is keyed by address: reusing one made for another host name would
skip that name's certificate check). The whole attempt, body included, is bounded by `timeout`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

import httpx

from muster.notify.webhooks.policy import AttemptResult
from muster.notify.webhooks.targets import Address, TargetUnresolvable, refusal, resolve

__all__ = ["post"]

MAX_ERROR_BODY = 300  # characters of a failed answer's body kept in the delivery log
_READ_LIMIT = 4096


@functools.lru_cache(maxsize=1)
def _client() -> httpx.Client:
    """One client (its TLS context is built once); connections are not kept."""
    return httpx.Client(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool,
) -> AttemptResult:
    """POST `body` to `url`; never raises: every failure is the attempt's result."""
    started = time.monotonic()
    target = httpx.URL(url)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        addresses = resolve(target.host, port, timeout)
    except TargetUnresolvable as exc:
        return AttemptResult(None, exc.detail, _ms(started))
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                error = f"refused: {target.host} resolves to {address}, a {reason} address"
                return AttemptResult(None, error, _ms(started), str(address), refused=True)
    last = AttemptResult(None, "no address to connect to", _ms(started))
    for address in addresses:
        remaining = timeout - (time.monotonic() - started)
        if remaining <= 0:
            break
        last = _send(target, address, body, headers, remaining, started)
        if last.error is None or not last.error.startswith("ConnectError"):
            return last
    return last


def _send(
    target: httpx.URL,
    address: Address,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    started: float,
) -> AttemptResult:
    """One POST to `address`, as if to the URL's host."""
    pinned = target.copy_with(host=str(address))
    extensions = {}
    if target.scheme == "https" and target.host != str(address):
        extensions["sni_hostname"] = target.host
    sent = {**headers, "Host": target.netloc.decode("ascii")}
    shown = str(address)
    try:
        with _client().stream(
            "POST", pinned, content=body, headers=sent, timeout=timeout, extensions=extensions
        ) as response:
            received = bytearray()
            for chunk in response.iter_bytes():
                if time.monotonic() - started > timeout:
                    raise httpx.ReadTimeout("the answer took longer than the timeout")
                received += chunk
                if len(received) >= _READ_LIMIT:
                    break
    except httpx.TimeoutException as exc:
        return AttemptResult(None, f"timeout after {timeout:g} s: {exc}", _ms(started), shown)
    except httpx.HTTPError as exc:
        return AttemptResult(None, f"{type(exc).__name__}: {exc}", _ms(started), shown)
    status = response.status_code
    error = None
    if not 200 <= status < 300:
        text = received.decode("utf-8", errors="replace").strip()[:MAX_ERROR_BODY]
        error = f"answered HTTP {status}" + (f": {text}" if text else "")
    return AttemptResult(status, error, _ms(started), shown)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
