"""Unit tests for muster.auth.keys: API key minting, prefix parsing and matching."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muster.auth import keys
from muster.auth.keys import KEY_SCHEME, hash_key, matches, mint_key, prefix_of

KEY_RE = re.compile(r"^mst_[0-9a-f]{10}_[A-Za-z0-9_-]{32}$")


class TestMint:
    def test_shape(self) -> None:
        key = mint_key()
        assert KEY_RE.match(key.plaintext), key.plaintext
        assert key.plaintext.startswith(f"{KEY_SCHEME}_{key.prefix}_")
        assert re.fullmatch(r"[0-9a-f]{10}", key.prefix)

    def test_only_a_hash_is_kept(self) -> None:
        key = mint_key()
        assert key.key_hash == hashlib.sha256(key.plaintext.encode()).hexdigest()
        assert key.plaintext not in key.key_hash
        assert len(key.key_hash) == 64

    def test_every_key_is_new(self) -> None:
        minted = [mint_key() for _ in range(500)]
        assert len({k.plaintext for k in minted}) == 500
        assert len({k.prefix for k in minted}) == 500
        assert len({k.key_hash for k in minted}) == 500

    def test_a_minted_key_parses_and_matches(self) -> None:
        for _ in range(200):  # secrets may contain "_" and "-": parsing must not split on them
            key = mint_key()
            assert prefix_of(key.plaintext) == key.prefix
            assert matches(key.plaintext, key.key_hash)


class TestPrefix:
    @pytest.mark.parametrize(
        "value",
        [
            "",
            "mst",
            "mst_",
            "mst_0123456789",
            "xyz_0123456789_secret",
            "MST_0123456789_secret",
            "mst_012345678_secret",
            "mst_01234567890_secret",
            "Bearer mst_0123456789_secret",
            "0123456789",
        ],
    )
    def test_malformed_keys_have_no_prefix(self, value: str) -> None:
        assert prefix_of(value) is None

    def test_the_secret_may_contain_underscores(self) -> None:
        assert prefix_of("mst_0123456789_a_b_c") == "0123456789"

    @given(st.text(max_size=40))
    def test_never_crashes(self, value: str) -> None:
        prefix = prefix_of(value)
        assert prefix is None or (len(prefix) == 10 and value.startswith(f"mst_{prefix}_"))


class TestMatches:
    def test_the_right_key(self) -> None:
        key = mint_key()
        assert matches(key.plaintext, key.key_hash)

    def test_a_wrong_key(self) -> None:
        key, other = mint_key(), mint_key()
        assert not matches(other.plaintext, key.key_hash)
        assert not matches(key.plaintext[:-1], key.key_hash)
        assert not matches(key.plaintext + "x", key.key_hash)
        assert not matches(key.plaintext.upper(), key.key_hash)
        assert not matches("", key.key_hash)

    def test_the_hash_itself_is_not_a_key(self) -> None:
        key = mint_key()
        assert not matches(key.key_hash, key.key_hash)

    def test_compares_in_constant_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[tuple[str, str]] = []
        real = keys.hmac.compare_digest

        def spy(a: str, b: str) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(keys.hmac, "compare_digest", spy)
        key = mint_key()
        assert matches(key.plaintext, key.key_hash)
        assert calls == [(hash_key(key.plaintext), key.key_hash)]

    def test_non_ascii_input_is_a_mismatch_not_a_crash(self) -> None:
        key = mint_key()
        assert not matches("mst_0123456789_ümlaut", key.key_hash)
