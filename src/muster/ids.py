"""Identifiers: row ids, human-typable incident hashes and API key material."""

from __future__ import annotations

import os
import threading
import time
import uuid

# Crockford base32 without I, L, O, U: nothing an analyst can misread or mistype.
HASH_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


_entropy = threading.local()
_CHUNK = 10 * 409  # random bytes fetched per system call (409 ids)


def _random80() -> int:
    """80 random bits from a per-thread buffer of os.urandom output.

    One system call per few hundred ids: a call per id releases the GIL each time, and under
    load the calling thread then waits a whole switch interval to get it back.
    """
    buf: bytes = getattr(_entropy, "buf", b"")
    pos: int = getattr(_entropy, "pos", len(buf))
    if pos + 10 > len(buf):
        buf, pos = os.urandom(_CHUNK), 0
        _entropy.buf = buf
    _entropy.pos = pos + 10
    return int.from_bytes(buf[pos : pos + 10], "big")


def new_id() -> uuid.UUID:
    """Return a UUIDv7 id: time-ordered, so new rows land at the end of indexes, and strictly
    increasing within a thread (RFC 9562 method 3: within one millisecond the random part is
    counted up), so rows a transaction writes at one instant keep the order they were made in.
    """
    ms = time.time_ns() // 1_000_000
    last_ms: int = getattr(_entropy, "ms", -1)
    if ms <= last_ms:  # the same millisecond (or the clock stepped back): count up
        ms, rand = last_ms, _entropy.rand + 1
        if rand >> 74:  # 2**73 ids in one millisecond: borrow the next one
            ms, rand = ms + 1, _random80() >> 7
    else:
        rand = _random80() >> 7  # 73 bits: room to count up without overflowing 74
    _entropy.ms, _entropy.rand = ms, rand
    value = (
        (ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76  # version 7
        | (rand >> 62) << 64  # rand_a: 12 bits
        | 0x2 << 62  # RFC 4122 variant
        | rand & ((1 << 62) - 1)  # rand_b: 62 bits
    )
    return uuid.UUID(int=value)


def new_incident_hash() -> str:
    """Return a random `XXXX-XXXX` code over the Crockford alphabet (40 bits)."""
    bits = _random80() >> 40
    chars = "".join(HASH_ALPHABET[(bits >> shift) & 31] for shift in range(35, -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_incident_hash(value: str) -> str:
    """Return the canonical form of a typed hash: upper case, Crockford look-alikes mapped, dash."""
    cleaned = value.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 8:
        return value.strip().upper()
    return f"{cleaned[:4]}-{cleaned[4:]}"


MAX_INCIDENT_NUMBER = 2**31 - 1  # incidents.number is a 32-bit INTEGER column


def incident_number(value: str) -> int | None:
    """The incident number a typed `#12` or `12` names; None unless it is ASCII digits an
    incident can have (a larger number is out of the column's range on PostgreSQL)."""
    text = value.strip().removeprefix("#")
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_INCIDENT_NUMBER else None
