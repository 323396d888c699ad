"""`muster.jsontext`: exact integers of any size, and the fast check that routes to them."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from muster import jsontext

# The specification of a long number literal, as a regex (the module avoids running it).
LONG_NUMBER = re.compile(rb"[:\[,][ \t\r\n]*-?[0-9]{19,}")

json_ish = st.lists(
    st.one_of(
        st.sampled_from([b":", b",", b"[", b" ", b"\t", b"-", b'"', b"a", b"{", b"}", b"\n"]),
        st.integers(min_value=0, max_value=10**30).map(lambda n: str(n).encode()),
    ),
    max_size=40,
).map(b"".join)


@given(json_ish)
def test_fast_check_agrees_with_the_regex(text: bytes) -> None:
    assert jsontext._holds_long_number(text) == bool(LONG_NUMBER.search(text))


@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_integers_of_any_size_round_trip_exactly(number: int) -> None:
    text = jsontext.dumps({"n": number, "list": [number]})
    for form in (text, text.encode()):
        assert jsontext.loads(form) == {"n": number, "list": [number]}


def test_digits_inside_strings_keep_the_fast_path_result() -> None:
    # a 25-digit run inside a string is not a number: orjson's value stands (and equals json's)
    text = b'{"hash": "x1234567890123456789012345", "n": 1}'
    assert not jsontext._holds_long_number(text)
    assert jsontext.loads(text) == {"hash": "x1234567890123456789012345", "n": 1}
