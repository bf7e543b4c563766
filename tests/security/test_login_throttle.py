"""Finding (issue 17): failed sign-ins locked the account for everyone — even the owner's
right password was refused, answered 200. Now: growing delays per IP + account (and per IP),
answered 429 with Retry-After, kept in Redis (shared by every process), and the right password
works again once the delay has passed."""

from __future__ import annotations

import itertools

import pytest
from django_redis import get_redis_connection

from tenants import login_throttle
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

_ips = itertools.count(1)


@pytest.fixture
def ip() -> str:
    """A fresh documentation address per test: counters of other tests never interfere."""
    n = next(_ips)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by the test (taken now, inside the test)."""
    import time

    state = {"now": time.time()}
    monkeypatch.setattr(login_throttle, "_now", lambda: state["now"])

    def advance(seconds: float) -> None:
        state["now"] += seconds

    return advance


@pytest.fixture
def small_limits(settings):
    settings.LOGIN_FAILURES_FREE_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_FREE_PER_IP = 50
    settings.LOGIN_DELAY_BASE_SECONDS = 2
    settings.LOGIN_DELAY_MAX_SECONDS = 60


def _login(client, email, password, ip):
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip)


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def test_growing_delay_then_the_right_password_works(host_client, ip, clock, small_limits):
    user = UserFactory()
    client = host_client()
    for _ in range(3):  # the free failures: the usual form error
        assert _login(client, user.email, "wrong-password-123", ip).status_code == 200
    assert _login(client, user.email, "wrong-password-123", ip).status_code == 200  # 4th: 2 s

    blocked = _login(client, user.email, PASSWORD, ip)  # even the right one waits
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "2"
    assert b"Too many failed sign-in attempts" in blocked.content
    assert client.get("/").status_code == 302  # not signed in

    clock(2.5)
    assert _login(client, user.email, "wrong-password-123", ip).status_code == 200  # now 4 s
    assert _login(client, user.email, PASSWORD, ip)["Retry-After"] == "4"
    clock(4.5)
    assert _login(client, user.email, "wrong-password-123", ip).status_code == 200  # now 8 s
    assert _login(client, user.email, PASSWORD, ip)["Retry-After"] == "8"

    clock(8.5)
    assert _signed_in(_login(client, user.email, PASSWORD, ip))  # the owner gets in
    # ... and the success cleared the counter for this place: free failures again.
    other = host_client()
    assert _login(other, user.email, "wrong-password-123", ip).status_code == 200
    assert _signed_in(_login(other, user.email, PASSWORD, ip))


def test_delay_is_capped(host_client, ip, clock, small_limits):
    user = UserFactory()
    client = host_client()
    for _ in range(3 + 10):
        _login(client, user.email, "wrong-password-123", ip)
        clock(61)
    _login(client, user.email, "wrong-password-123", ip)
    assert _login(client, user.email, PASSWORD, ip)["Retry-After"] == "60"


def test_a_stranger_cannot_lock_the_owner_out(host_client, ip, clock, small_limits):
    user = UserFactory()
    stranger = host_client()
    for _ in range(20):
        _login(stranger, user.email, "wrong-password-123", "203.0.113.66")
    assert _login(stranger, user.email, PASSWORD, "203.0.113.66").status_code == 429
    assert _signed_in(_login(host_client(), user.email, PASSWORD, ip))


def test_one_address_spraying_many_accounts_is_slowed(host_client, ip, clock, settings):
    settings.LOGIN_FAILURES_FREE_PER_IP = 4
    settings.LOGIN_DELAY_BASE_SECONDS = 2
    client = host_client()
    for user in UserFactory.create_batch(5):
        assert _login(client, user.email, "wrong-password-123", ip).status_code == 200
    fresh = UserFactory()
    response = _login(client, fresh.email, PASSWORD, ip)
    assert response.status_code == 429 and response["Retry-After"] == "2"
    clock(2.5)
    assert _signed_in(_login(client, fresh.email, PASSWORD, ip))


def test_counters_live_in_redis_shared_by_every_process(host_client, ip, small_limits, tenant_a):
    user = UserFactory()
    for _ in range(4):
        _login(host_client(), user.email, "wrong-password-123", ip)
    keys = get_redis_connection("default").keys(f"*login-throttle:account:{ip}:*")
    assert keys, "the throttle must keep its counters in the shared Redis cache"
    # Another host (another schema's cache key space) sees the same delay.
    from tests.conftest import HostClient

    other_host = HostClient(tenant_a.primary_host)
    assert _login(other_host, user.email, PASSWORD, ip).status_code == 429
