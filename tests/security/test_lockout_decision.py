"""The lockout decision (`muster.auth.lockout`), with plain values: no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from muster.auth.lockout import Locked, LockoutPolicy, decide, locked_until

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FIVE_IN_15 = LockoutPolicy(5, timedelta(minutes=15), timedelta(minutes=15))
OFF = LockoutPolicy(0, timedelta(minutes=15), timedelta(minutes=15))


def at(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


class TestLockedUntil:
    def test_fewer_failures_than_the_limit_lock_nothing(self) -> None:
        assert locked_until(at(0, 1, 2, 3), FIVE_IN_15) is None

    def test_the_limit_within_the_window_locks_from_the_last_failure(self) -> None:
        assert locked_until(at(0, 1, 2, 3, 4), FIVE_IN_15) == T0 + timedelta(minutes=19)

    def test_failures_spread_wider_than_the_window_lock_nothing(self) -> None:
        assert locked_until(at(0, 4, 8, 12, 16), FIVE_IN_15) is None

    def test_exactly_the_window_still_counts(self) -> None:
        assert locked_until(at(0, 5, 10, 14, 15), FIVE_IN_15) == T0 + timedelta(minutes=30)

    def test_the_latest_run_decides_and_order_does_not_matter(self) -> None:
        failures = at(40, 0, 1, 2, 3, 4, 41, 42, 43, 44)
        assert locked_until(failures, FIVE_IN_15) == T0 + timedelta(minutes=59)

    def test_a_limit_of_zero_never_locks(self) -> None:
        assert locked_until(at(*range(100)), OFF) is None


class TestDecide:
    def test_open_when_neither_is_locked(self) -> None:
        assert decide(at(0, 1), at(0, 1, 2), T0 + timedelta(minutes=3), FIVE_IN_15, OFF) is None

    def test_the_account_lockout_and_its_retry_after(self) -> None:
        now = T0 + timedelta(minutes=10)
        locked = decide(at(0, 1, 2, 3, 4), [], now, FIVE_IN_15, OFF)
        assert locked == Locked("account", T0 + timedelta(minutes=19))
        assert locked.retry_after(now) == 9 * 60

    def test_a_lockout_ends(self) -> None:
        failures = at(0, 1, 2, 3, 4)
        assert decide(failures, [], T0 + timedelta(minutes=18, seconds=59), FIVE_IN_15, OFF)
        assert decide(failures, [], T0 + timedelta(minutes=19), FIVE_IN_15, OFF) is None

    def test_the_address_limit_applies_to_any_account(self) -> None:
        per_address = LockoutPolicy(3, timedelta(minutes=15), timedelta(minutes=5))
        locked = decide(at(0), at(0, 1, 2), T0 + timedelta(minutes=3), FIVE_IN_15, per_address)
        assert locked == Locked("address", T0 + timedelta(minutes=7))

    def test_the_later_of_two_lockouts_is_reported(self) -> None:
        short = LockoutPolicy(2, timedelta(minutes=15), timedelta(minutes=1))
        now = T0 + timedelta(minutes=4, seconds=30)
        locked = decide(at(0, 1, 2, 3, 4), at(4, 4.2), now, FIVE_IN_15, short)
        assert locked is not None and locked.scope == "account"

    def test_retry_after_is_at_least_a_second(self) -> None:
        until = T0 + timedelta(milliseconds=10)
        assert Locked("account", until).retry_after(T0) == 1
