"""Retry policy for calls to the DIP: which outcomes to retry and how long to wait.

Pure and deterministic given a :class:`random.Random`: no clock reads, no sleeping. The client
asks :meth:`RetryPolicy.next_delay` after each retryable failure and sleeps for the answer, or
gives up when it returns ``None``.

Retryable statuses mirror the DIP's own webhook policy (PROTOCOL.md §3.3, §4.4): 408, 429,
500, 502, 503, 504 plus connection errors and timeouts. Waits use exponential back-off with
*full jitter* (a uniform draw in ``[0, min(max_delay, base_delay * 2**(attempt-1))]``), so many
workers retrying after one outage spread out instead of stampeding. A server's ``Retry-After``
is honoured as a lower bound. ``max_total_wait`` caps the sum of waits for one call: if the
next wait would break it, the policy gives up so the caller (a Celery task) can reschedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # total tries, including the first
    base_delay: float = 0.5  # seconds; the first retry waits up to this
    max_delay: float = 30.0  # cap on a single back-off wait
    max_total_wait: float = 120.0  # cap on the sum of all waits for one call
    max_retry_after: float = 300.0  # a larger Retry-After means "give up now, try later"
    retryable_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_total_wait) < 0:
            raise ValueError("delays must not be negative")

    def is_retryable(self, status: int) -> bool:
        return status in self.retryable_statuses

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt - 1, 62)))
        return rng.uniform(0.0, ceiling)

    def next_delay(
        self,
        *,
        attempt: int,
        waited: float,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop retrying.

        ``attempt``: attempts made so far; ``waited``: seconds already spent waiting for this
        call; ``retry_after``: the server's Retry-After in seconds, if it sent one.
        """
        if attempt >= self.max_attempts:
            return None
        delay = self.backoff(attempt, rng)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            delay = max(delay, retry_after)
        if waited + delay > self.max_total_wait:
            return None
        return delay

    def schedule(self, rng: random.Random) -> list[float]:
        """The waits a call would make if every attempt failed without Retry-After."""
        waits: list[float] = []
        waited = 0.0
        for attempt in range(1, self.max_attempts):
            delay = self.next_delay(attempt=attempt, waited=waited, rng=rng)
            if delay is None:
                break
            waits.append(delay)
            waited += delay
        return waits


NO_RETRY = RetryPolicy(max_attempts=1)
