"""Sign-in throttle: growing delays after failed passwords, shared by every process (Redis).

Two counters, each with a few free failures and then a delay that doubles with every further
failure (``LOGIN_DELAY_BASE_SECONDS`` × 2ⁿ, capped at ``LOGIN_DELAY_MAX_SECONDS``):

- per **IP address and account**: guessing one person's password from one place;
- per **IP address**: one place trying many accounts (password spraying).

While a delay runs, every attempt from that place for that account — the right password too —
is answered 429 with ``Retry-After``, and no password is checked. When it has passed, the right
password works again and clears the account counter: a stranger elsewhere can never lock the
owner out, because the account counter is kept per IP address. Counters are forgotten
``LOGIN_FAILURES_FORGET_SECONDS`` after the last failure.

MFA codes are limited separately by allauth (``ACCOUNT_RATE_LIMITS["login_failed"]``, keyed
per user), which only someone who knows the password can reach.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_tenants.utils import schema_context

_now = time.time  # tests move the clock by replacing this


@dataclass(frozen=True)
class _Counter:
    key: str
    free: int


def _client_ip(request: HttpRequest) -> str:
    from allauth.account.adapter import get_adapter

    return str(get_adapter(request).get_client_ip(request))


def _counters(request: HttpRequest, login: str) -> list[_Counter]:
    ip = _client_ip(request)
    account = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
    return [
        _Counter(
            f"login-throttle:account:{ip}:{account}", settings.LOGIN_FAILURES_FREE_PER_ACCOUNT
        ),
        _Counter(f"login-throttle:ip:{ip}", settings.LOGIN_FAILURES_FREE_PER_IP),
    ]


def _delay(failures: int, free: int) -> float:
    beyond = failures - free
    if beyond <= 0:
        return 0.0
    return float(
        min(settings.LOGIN_DELAY_BASE_SECONDS * 2 ** (beyond - 1), settings.LOGIN_DELAY_MAX_SECONDS)
    )


def retry_after(request: HttpRequest, login: str) -> int:
    """Seconds until this place may try this account again (0: now)."""
    now = _now()
    # One key space for every host: the cache's key function is per schema.
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        until = [cache.get(f"{c.key}:until") for c in _counters(request, login)]
    wait = max((u - now for u in until if u is not None), default=0.0)
    return math.ceil(wait) if wait > 0 else 0


def record_failure(request: HttpRequest, login: str) -> int:
    """Count a failed password; return the delay now imposed (seconds, 0 if none)."""
    now, ttl = _now(), settings.LOGIN_FAILURES_FORGET_SECONDS
    longest = 0.0
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        for counter in _counters(request, login):
            cache.add(counter.key, 0, ttl)
            failures = cache.incr(counter.key)
            cache.touch(counter.key, ttl)
            delay = _delay(int(failures), counter.free)
            if delay:
                cache.set(f"{counter.key}:until", now + delay, ttl)
                longest = max(longest, delay)
    return math.ceil(longest)


def record_success(request: HttpRequest, login: str) -> None:
    """The right password: this place starts afresh for this account."""
    account = _counters(request, login)[0]
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        cache.delete_many([account.key, f"{account.key}:until"])
