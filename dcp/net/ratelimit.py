"""Fixed-window rate limits counted in the shared Django cache (Redis): every web process and
every host sees the same count, unlike a per-process counter.

One key per (limit name, subject, window); ``cache.add`` starts it with the window's expiry and
``cache.incr`` counts atomically in Redis. :meth:`FixedWindow.exceeded` only reads, so a caller
can refuse a subject that is already over its limit before doing any other work. A cache that
does not answer lets the request through (logged): refusing the DIP's deliveries because Redis
is down would lose more than a missed limit.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends (for Retry-After)


class FixedWindow:
    def __init__(self, name: str, *, limit: Callable[[], int], period: int = 60) -> None:
        self.name = name
        self.limit = limit  # read per call: settings may change (tests, reload)
        self.period = period

    def _key(self, subject: str, now: float) -> tuple[str, int]:
        window = int(now // self.period)
        digest = hashlib.blake2b(subject.encode(), digest_size=12).hexdigest()
        return f"rl:{self.name}:{digest}:{window}", self.period - int(now % self.period)

    def exceeded(self, subject: str) -> int:
        """Seconds to wait when ``subject`` is already at its limit, else 0 (does not count)."""
        key, left = self._key(subject, time.time())
        try:
            count = cache.get(key) or 0
        except Exception:
            log.warning("rate limit %s: cache unavailable, not limiting", self.name, exc_info=True)
            return 0
        return left if int(count) >= self.limit() else 0

    def hit(self, subject: str) -> Decision:
        """Count one event for ``subject``; ``allowed`` is False past the limit."""
        key, left = self._key(subject, time.time())
        try:
            cache.add(key, 0, timeout=self.period + 1)
            try:
                count = int(cache.incr(key))
            except ValueError:  # the key expired between add and incr: count afresh
                cache.add(key, 0, timeout=self.period + 1)
                count = int(cache.incr(key))
        except Exception:
            log.warning("rate limit %s: cache unavailable, not limiting", self.name, exc_info=True)
            return Decision(True, 0, 0)
        return Decision(count <= self.limit(), count, left)

    def reset(self, subject: str) -> None:
        """Forget ``subject``'s count in the current window."""
        cache.delete(self._key(subject, time.time())[0])
