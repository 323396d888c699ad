"""`next_attempt_at`: deterministic exponential backoff, capped, giving up after max attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from muster.worker.backoff import next_attempt_at

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 64)],
)
def test_delay_doubles_from_base(attempts: int, delay: int) -> None:
    assert next_attempt_at(attempts, NOW) == NOW + timedelta(seconds=delay)


def test_gives_up_at_max_attempts() -> None:
    assert next_attempt_at(8, NOW) is None
    assert next_attempt_at(9, NOW) is None
    assert next_attempt_at(2, NOW, max_attempts=2) is None
    assert next_attempt_at(1, NOW, max_attempts=2) == NOW + timedelta(seconds=1)


def test_delay_is_capped() -> None:
    cap = timedelta(minutes=5)
    assert next_attempt_at(20, NOW, max_attempts=100) == NOW + cap
    assert next_attempt_at(10_000, NOW, max_attempts=100_000) == NOW + cap
    assert next_attempt_at(4, NOW, cap=timedelta(seconds=5)) == NOW + timedelta(seconds=5)


def test_custom_base_and_no_attempt_yet() -> None:
    base = timedelta(milliseconds=250)
    assert next_attempt_at(3, NOW, base=base) == NOW + timedelta(seconds=1)
    assert next_attempt_at(0, NOW) == NOW + timedelta(seconds=1)


def test_deterministic() -> None:
    assert next_attempt_at(5, NOW) == next_attempt_at(5, NOW)
