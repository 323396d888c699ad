"""Unit tests for muster.ids: time-ordered row ids and human-typable incident hashes."""

from __future__ import annotations

import itertools
import re
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muster.ids import HASH_ALPHABET, new_id, new_incident_hash, normalise_incident_hash

HASH_RE = re.compile(rf"^[{HASH_ALPHABET}]{{4}}-[{HASH_ALPHABET}]{{4}}$")
hashes = st.text(HASH_ALPHABET, min_size=8, max_size=8).map(lambda s: f"{s[:4]}-{s[4:]}")


class TestAlphabet:
    def test_crockford_base32_without_look_alikes(self) -> None:
        assert len(HASH_ALPHABET) == 32
        assert len(set(HASH_ALPHABET)) == 32
        assert not set("ILOU") & set(HASH_ALPHABET)
        assert HASH_ALPHABET.isupper()
        assert set(HASH_ALPHABET) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class TestNewIncidentHash:
    def test_format(self) -> None:
        for _ in range(500):
            value = new_incident_hash()
            assert HASH_RE.match(value), value
            assert len(value) == 9

    def test_random(self) -> None:
        values = {new_incident_hash() for _ in range(2000)}
        assert len(values) == 2000  # 40 bits: a collision here means the source is not random

    def test_uses_the_whole_alphabet(self) -> None:
        seen = set("".join(new_incident_hash() for _ in range(400)).replace("-", ""))
        assert seen == set(HASH_ALPHABET)

    def test_a_new_hash_is_already_normal(self) -> None:
        value = new_incident_hash()
        assert normalise_incident_hash(value) == value


class TestNormalise:
    @pytest.mark.parametrize(
        ("typed", "canonical"),
        [
            ("K7Q2-M4XP", "K7Q2-M4XP"),
            ("k7q2-m4xp", "K7Q2-M4XP"),
            ("k7q2m4xp", "K7Q2-M4XP"),
            ("  K7Q2 M4XP  ", "K7Q2-M4XP"),
            ("K7Q2-M4X-P", "K7Q2-M4XP"),
            ("O0I1-L1o0", "0011-1100"),
            ("i1l1-o0O0", "1111-0000"),
        ],
    )
    def test_typed_forms(self, typed: str, canonical: str) -> None:
        assert normalise_incident_hash(typed) == canonical

    @pytest.mark.parametrize("typed", ["K7Q2-M4X", "K7Q2-M4XPZ", "", "  short "])
    def test_wrong_length_is_left_recognisable_but_never_matches(self, typed: str) -> None:
        value = normalise_incident_hash(typed)
        assert value == typed.strip().upper()
        assert not HASH_RE.match(value)

    @given(hashes)
    def test_idempotent_on_canonical_hashes(self, value: str) -> None:
        assert normalise_incident_hash(value) == value
        assert normalise_incident_hash(normalise_incident_hash(value)) == value

    @given(
        hashes,
        st.sampled_from(
            [
                str.lower,
                str.upper,
                lambda s: s.replace("-", ""),
                lambda s: f" {s.replace('-', ' ')} ",
            ]
        ),
    )
    def test_spellings_of_a_hash_normalise_to_it(self, value: str, spell: object) -> None:
        assert callable(spell)
        assert normalise_incident_hash(spell(value)) == value

    @given(st.text(max_size=12))
    def test_never_crashes_and_is_idempotent(self, typed: str) -> None:
        once = normalise_incident_hash(typed)
        assert normalise_incident_hash(once) == once


class TestNewId:
    def test_uuid_version_7_rfc_variant(self) -> None:
        value = new_id()
        assert isinstance(value, uuid.UUID)
        assert value.version == 7
        assert value.variant == uuid.RFC_4122

    def test_carries_the_current_millisecond(self) -> None:
        before = time.time_ns() // 1_000_000
        value = new_id()
        after = time.time_ns() // 1_000_000
        assert before <= value.int >> 80 <= after

    def test_time_ordered_across_milliseconds(self) -> None:
        first = new_id()
        time.sleep(0.003)
        second = new_id()
        assert first < second
        assert str(first) < str(second)

    def test_unique(self) -> None:
        assert len({new_id() for _ in range(10_000)}) == 10_000

    def test_strictly_increasing_within_a_millisecond(self) -> None:
        ids = [new_id() for _ in range(5_000)]  # many share a millisecond
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        same_ms = [b for a, b in itertools.pairwise(ids) if a.int >> 80 == b.int >> 80]
        assert same_ms, "no two ids shared a millisecond: the test proves nothing"
        assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in same_ms)
