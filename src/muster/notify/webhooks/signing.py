"""Webhook signatures: HMAC-SHA256 over `"{timestamp}.{raw body}"`, two header styles.

`standard` (muster)::

    X-Muster-Event: incident.created
    X-Muster-Delivery: <delivery id>
    X-Muster-Timestamp: 1795000000
    X-Muster-Signature: sha256=<hex HMAC-SHA256(secret, "1795000000.<body>")>

`contraforce` (the ContraForce sample receivers, ../shared/reference.md §2.3)::

    X-CF-Signature: sha256=<hex, same computation>
    X-CF-Timestamp: 1795000000
    X-CF-Event-Id: <event id>
    X-CF-Schema: incident.created.v1

Both carry `X-Muster-Delivery` and `Idempotency-Key` (the delivery id, the same on every attempt
of a delivery) so receivers can drop repeats. All but `new_secret` is pure (the timestamp and
`now` are passed in).
`verify` is what a receiver runs; docs/notifications.md has a standalone copy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Literal

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "STYLES",
    "SignatureStyle",
    "headers",
    "new_secret",
    "signature",
    "verify",
]

SignatureStyle = Literal["standard", "contraforce"]
STYLES: tuple[SignatureStyle, ...] = ("standard", "contraforce")
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "{timestamp}.{body}")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def headers(
    style: str,
    *,
    secret: str,
    timestamp: int,
    body: bytes,
    event_type: str,
    event_id: str,
    delivery_id: str,
) -> dict[str, str]:
    """The request headers of one attempt in `style` (the body is signed as sent)."""
    signed = signature(secret, timestamp, body)
    common = {
        "Content-Type": "application/json",
        "User-Agent": "muster-webhooks",
        "X-Muster-Delivery": delivery_id,
        "Idempotency-Key": delivery_id,
    }
    if style == "contraforce":
        return common | {
            "X-CF-Signature": signed,
            "X-CF-Timestamp": str(timestamp),
            "X-CF-Event-Id": event_id,
            "X-CF-Schema": f"{event_type}.v1",
        }
    return common | {
        "X-Muster-Event": event_type,
        "X-Muster-Timestamp": str(timestamp),
        "X-Muster-Signature": signed,
    }


def verify(
    secret: str,
    body: bytes,
    received: Mapping[str, str],
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when the request headers (either style, any case) carry a valid signature of `body`
    made within `tolerance_seconds` of `now` (unix seconds)."""
    lowered = {name.lower(): value for name, value in received.items()}
    for prefix in ("x-muster-", "x-cf-"):
        stamp, signed = lowered.get(prefix + "timestamp"), lowered.get(prefix + "signature")
        if stamp is None or signed is None:
            continue
        try:
            timestamp = int(stamp)
        except ValueError:
            return False
        if abs(now - timestamp) > tolerance_seconds:
            return False
        return hmac.compare_digest(signature(secret, timestamp, body), signed.strip())
    return False
