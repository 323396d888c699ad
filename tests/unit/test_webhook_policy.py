"""After a delivery attempt: state, retry schedule, disabling (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from muster.notify.webhooks.policy import AttemptResult, after_attempt, log_entry, retry_delay

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BASE = timedelta(seconds=5)
OK = AttemptResult(204, None, 12)
FAIL = AttemptResult(500, "answered HTTP 500", 30)
DOWN = AttemptResult(None, "ConnectError: refused", 3)


def test_backoff_doubles_and_is_capped_at_an_hour() -> None:
    delays = [retry_delay(n, BASE).total_seconds() for n in range(1, 8)]
    assert delays == [5, 10, 20, 40, 80, 160, 320]
    assert retry_delay(20, BASE) == timedelta(hours=1)
    assert retry_delay(500, BASE) == timedelta(hours=1)


def test_success_delivers() -> None:
    verdict = after_attempt(3, OK, 0, NOW, max_attempts=5, retry_base=BASE, disable_after=10)
    assert (verdict.state, verdict.retry_at, verdict.disable_reason) == ("delivered", None, None)


@pytest.mark.parametrize("result", [FAIL, DOWN, AttemptResult(302, "answered HTTP 302", 1)])
def test_failure_retries_with_backoff(result: AttemptResult) -> None:
    verdict = after_attempt(2, result, 2, NOW, max_attempts=5, retry_base=BASE, disable_after=10)
    assert verdict.state == "pending" and verdict.retry_at == NOW + timedelta(seconds=10)
    assert verdict.disable_reason is None


def test_the_last_attempt_fails_the_delivery() -> None:
    verdict = after_attempt(5, FAIL, 5, NOW, max_attempts=5, retry_base=BASE, disable_after=10)
    assert (verdict.state, verdict.retry_at, verdict.disable_reason) == ("failed", None, None)


def test_consecutive_failures_disable() -> None:
    verdict = after_attempt(1, FAIL, 10, NOW, max_attempts=5, retry_base=BASE, disable_after=10)
    assert verdict.state == "failed" and verdict.retry_at is None
    assert verdict.disable_reason == "10 consecutive failed delivery attempts"


def test_gone_disables_at_once() -> None:
    gone = AttemptResult(410, "answered HTTP 410", 5)
    verdict = after_attempt(1, gone, 1, NOW, max_attempts=5, retry_base=BASE, disable_after=10)
    assert verdict.state == "failed" and verdict.disable_reason is not None
    assert "410" in verdict.disable_reason


def test_a_test_ping_is_tried_once_and_disables_nothing() -> None:
    for result in (FAIL, AttemptResult(410, "gone", 1)):
        verdict = after_attempt(
            1, result, 99, NOW, max_attempts=5, retry_base=BASE, disable_after=10, is_test=True
        )
        assert (verdict.state, verdict.retry_at, verdict.disable_reason) == ("failed", None, None)


def test_outcome_labels_and_log_entry() -> None:
    refused = AttemptResult(None, "refused: loopback", 1, "127.0.0.1", refused=True)
    assert [r.outcome for r in (OK, FAIL, DOWN, refused)] == [
        "delivered",
        "failed",
        "failed",
        "refused",
    ]
    assert log_entry(2, NOW, FAIL) == {
        "attempt": 2,
        "at": "2026-11-24T12:00:00Z",
        "statusCode": 500,
        "error": "answered HTTP 500",
        "durationMs": 30,
        "address": None,
    }
