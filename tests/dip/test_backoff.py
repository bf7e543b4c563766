"""dip.backoff: full-jitter exponential back-off, Retry-After, caps — deterministic via rng."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dip.backoff import (
    NO_RETRY,
    RETRYABLE_STATUSES,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
)

NOW = datetime(2025, 4, 1, 6, 10, tzinfo=UTC)


def test_retryable_statuses_match_the_dip_policy() -> None:
    assert {408, 429, 500, 502, 503, 504} == RETRYABLE_STATUSES
    assert not any(
        is_retryable_status(s) for s in (200, 201, 400, 401, 403, 404, 405, 406, 413, 505)
    )


def test_same_seed_same_schedule() -> None:
    policy = RetryPolicy()
    assert policy.schedule(random.Random(1)) == policy.schedule(random.Random(1))


@given(seed=st.integers(), attempt=st.integers(min_value=1, max_value=200))
def test_full_jitter_bounds(seed: int, attempt: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30)
    delay = policy.backoff(attempt, random.Random(seed))
    assert 0 <= delay <= min(30, 0.5 * 2 ** (attempt - 1))


@given(seed=st.integers(), total=st.floats(min_value=0, max_value=100), attempts=st.integers(1, 50))
def test_schedule_respects_total_wait_and_attempts(seed: int, total: float, attempts: int) -> None:
    policy = RetryPolicy(max_attempts=attempts, max_total_wait=total)
    waits = policy.schedule(random.Random(seed))
    assert sum(waits) <= total and len(waits) <= attempts - 1


def test_retry_after_is_a_lower_bound_and_too_long_gives_up() -> None:
    policy = RetryPolicy(max_total_wait=100, max_retry_after=60)
    rng = random.Random(0)
    assert policy.next_delay(attempt=1, waited=0, rng=rng, retry_after=10) == 10
    assert policy.next_delay(attempt=1, waited=0, rng=rng, retry_after=61) is None
    assert policy.next_delay(attempt=1, waited=95, rng=rng, retry_after=10) is None


def test_no_retry_and_validation() -> None:
    assert NO_RETRY.next_delay(attempt=1, waited=0, rng=random.Random()) is None
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Tue, 01 Apr 2025 06:11:00 GMT", 60.0),
        ("Tue, 01 Apr 2025 06:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("-5", None),
        ("soon", None),
        ("1" * 100, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_http_date_relative_to_now() -> None:
    later = NOW + timedelta(seconds=30)
    assert parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), now=NOW) == 30.0
