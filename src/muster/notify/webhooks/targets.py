"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.

The SSRF rule: a target resolving to a loopback, private (RFC 1918, fc00::/7, 100.64/10),
link-local (169.254/16 with the cloud metadata address, fe80::/10), unspecified, multicast,
reserved or otherwise not globally routable address is refused, unless the admin setting
`webhook_allow_private_targets` is on. It is checked twice:

- when a subscription is created or its URL changes (`check_target`: 400
  `webhook.target_refused`), so a mistake shows at once;
- at every delivery, against the address actually connected to: the sender resolves the host
  itself (`resolve`), refuses the attempt if ANY resolved address is refused, then connects to
  the first address (`muster.notify.webhooks.sender`), so a name that changed its answer since
  the first check (DNS rebinding) cannot reach an internal address.

`refusal` is a pure function of an address; `resolve` asks the system resolver, bounded in time.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import httpx

from muster.errors import InvalidInput

__all__ = [
    "Address",
    "TargetRefused",
    "TargetUnresolvable",
    "check_target",
    "parse_url",
    "refusal",
    "resolve",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # shared address space (RFC 6598)
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="muster-webhook-dns")


class TargetRefused(InvalidInput):
    """The URL's host is (or resolves to) an address webhooks may not reach."""

    code = "webhook.target_refused"


class TargetUnresolvable(InvalidInput):
    """The URL's host name does not resolve (in time)."""

    code = "webhook.target_unresolvable"


def refusal(address: Address) -> str | None:
    """Why webhooks may not reach `address` (e.g. "loopback"), or None when it is public."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        return refusal(mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private or (address.version == 4 and address in _CGNAT)),
        ("not globally routable", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


def parse_url(url: str) -> httpx.URL:
    """The URL when it is an absolute http(s) URL with a host, else `InvalidInput` (400)."""
    message = None
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        message = f"is not a valid URL: {exc}"
    else:
        if parsed.scheme not in ("http", "https"):
            message = f"must be http or https, not {parsed.scheme or 'none'!r}"
        elif not parsed.host:
            message = "has no host"
        elif len(url) > MAX_URL_LENGTH:
            message = f"is longer than {MAX_URL_LENGTH} characters"
    if message is not None:
        raise InvalidInput.field("url", message, code="webhook.invalid_url")
    return parsed


def resolve(host: str, port: int, timeout: float) -> list[Address]:
    """The host's addresses (an IP literal is its own), in the resolver's order; raise
    `TargetUnresolvable` when it does not resolve within `timeout` seconds."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    future = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise _unresolvable(host, f"no answer within {timeout:g} s") from None
    except (OSError, UnicodeError) as exc:
        raise _unresolvable(host, str(exc)) from None
    found: list[Address] = []
    for info in infos:
        address = _literal(str(info[4][0]).split("%", 1)[0])
        if address is not None and address not in found:
            found.append(address)
    if not found:
        raise _unresolvable(host, "no addresses")
    return found


def check_target(url: str, *, allow_private: bool, timeout: float) -> httpx.URL:
    """The parsed URL if webhooks may be sent there, else `InvalidInput` / `TargetRefused`.

    With `allow_private` the host is not resolved (nothing would be refused)."""
    parsed = parse_url(url)
    if allow_private:
        return parsed
    for address in resolve(parsed.host, parsed.port or _default_port(parsed), timeout):
        reason = refusal(address)
        if reason is not None:
            raise TargetRefused(
                f"url: {parsed.host} resolves to {address}, a {reason} address; webhooks may "
                "only reach public addresses (admin setting webhook_allow_private_targets)",
                errors=[{"field": "url", "message": f"{address} is a {reason} address"}],
            )
    return parsed


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unresolvable(host: str, why: str) -> TargetUnresolvable:
    return TargetUnresolvable(
        f"url: the host {host!r} does not resolve: {why}",
        errors=[{"field": "url", "message": f"the host does not resolve: {why}"}],
    )
