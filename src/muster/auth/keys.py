"""API key material: `mst_<prefix>_<secret>`; only a SHA-256 of the whole key is stored.

A key is also a client id and secret pair for HTTP Basic (the ContraForce v2 API): the client id
is `mst_<prefix>`, the secret the rest; joined with `_` they are the key again.

Keys are 190 random bits, so a fast hash is the right tool (a slow password hash would add
milliseconds to every request without making a random key any harder to guess).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_SCHEME = "mst"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly minted key: `plaintext` is shown once and never stored."""

    plaintext: str
    prefix: str
    key_hash: str


def mint_key() -> NewKey:
    """Return a new random key with its lookup prefix and hash."""
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(24)
    plaintext = f"{KEY_SCHEME}_{prefix}_{secret}"
    return NewKey(plaintext, prefix, hash_key(plaintext))


def hash_key(plaintext: str) -> str:
    """Return the stored form of a key."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def prefix_of(plaintext: str) -> str | None:
    """Return the lookup prefix of a well-formed key, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 10:
        return None
    return parts[1]


def matches(plaintext: str, key_hash: str) -> bool:
    """Compare a presented key with a stored hash in constant time."""
    return hmac.compare_digest(hash_key(plaintext), key_hash)


def client_credentials(plaintext: str) -> tuple[str, str]:
    """(client id, client secret) of a key: `mst_<prefix>` and `<secret>`."""
    scheme, prefix, secret = plaintext.split("_", 2)
    return f"{scheme}_{prefix}", secret


def key_from_client_credentials(client_id: str, client_secret: str) -> str:
    """The key a client id and secret pair stands for (checked like any presented key)."""
    return f"{client_id}_{client_secret}"
