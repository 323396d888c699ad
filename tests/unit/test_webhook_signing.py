"""Webhook signatures: the HMAC over "{timestamp}.{body}", both header styles, and `verify`."""

from __future__ import annotations

import hashlib
import hmac

from muster.notify.webhooks.signing import headers, new_secret, signature, verify

SECRET = "whsec_test-secret-0123456789"
BODY = b'{"type":"incident.created","id":"e1"}'
NOW = 1_795_000_000


def _headers(style: str, timestamp: int = NOW, body: bytes = BODY) -> dict[str, str]:
    return headers(
        style,
        secret=SECRET,
        timestamp=timestamp,
        body=body,
        event_type="incident.created",
        event_id="e1",
        delivery_id="d1",
    )


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, NOW, BODY) == f"sha256={expected}"


def test_standard_headers() -> None:
    sent = _headers("standard")
    assert sent["X-Muster-Event"] == "incident.created"
    assert sent["X-Muster-Delivery"] == "d1" and sent["Idempotency-Key"] == "d1"
    assert sent["X-Muster-Timestamp"] == str(NOW)
    assert sent["X-Muster-Signature"] == signature(SECRET, NOW, BODY)
    assert sent["Content-Type"] == "application/json"
    assert not any(name.startswith("X-CF-") for name in sent)


def test_contraforce_headers() -> None:
    sent = _headers("contraforce")
    assert sent["X-CF-Signature"] == signature(SECRET, NOW, BODY)
    assert sent["X-CF-Timestamp"] == str(NOW)
    assert sent["X-CF-Event-Id"] == "e1"
    assert sent["X-CF-Schema"] == "incident.created.v1"
    assert "X-Muster-Signature" not in sent


def test_verify_accepts_both_styles_in_any_case() -> None:
    for style in ("standard", "contraforce"):
        sent = {name.lower(): value for name, value in _headers(style).items()}
        assert verify(SECRET, BODY, sent, now=NOW + 10)


def test_verify_refuses_tampering_wrong_secret_and_skew() -> None:
    sent = _headers("standard")
    assert not verify(SECRET, BODY + b" ", sent, now=NOW)
    assert not verify("another-secret-0123456789", BODY, sent, now=NOW)
    assert not verify(SECRET, BODY, sent, now=NOW + 301)
    assert not verify(SECRET, BODY, sent, now=NOW - 301)
    assert verify(SECRET, BODY, sent, now=NOW + 1000, tolerance_seconds=1000)
    forged = sent | {"X-Muster-Timestamp": str(NOW + 5)}  # the timestamp is signed too
    assert not verify(SECRET, BODY, forged, now=NOW)
    assert not verify(SECRET, BODY, sent | {"X-Muster-Timestamp": "soon"}, now=NOW)
    assert not verify(SECRET, BODY, {}, now=NOW)


def test_new_secrets_are_random_and_long() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) >= 40
