"""Liveness and readiness: every dependency, when unavailable, fails readiness with a reason.

Dependencies are never stopped (other people use them): each failure is simulated by pointing
the check at a closed port, a wrong database name, a missing directory or a missing heartbeat.
"""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid

import pytest

from dcp import health
from tests.factories import staff

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # released on close: nothing listens there


@pytest.fixture
def ops(settings, tmp_path):
    """A private heartbeat prefix (a running worker must not make a test pass), fresh
    heartbeats, a writable media root and no caching."""
    settings.DCP_HEARTBEAT_PREFIX = f"test-hb-{uuid.uuid4().hex[:8]}"
    settings.DCP_READYZ_CACHE_SECONDS = 0
    settings.MEDIA_ROOT = str(tmp_path)
    health.write_worker_heartbeat("celery@test-host")
    health.write_beat_heartbeat()
    yield health.default_config()
    client = health._redis(health.default_config())
    for key in client.scan_iter(match=f"{settings.DCP_HEARTBEAT_PREFIX}:*"):
        client.delete(key)


def _by_name(results):
    return {r.name: r for r in results}


def test_healthz_answers_on_every_host(host_client, tenant_a):
    for tenant in (None, tenant_a):
        response = host_client(tenant).get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_all_checks_pass_with_live_dependencies(ops):
    results = _by_name(health.run_checks(ops))
    assert all(r.ok for r in results.values()), results
    assert "schemas" in results["migrations"].detail
    assert "test-host" in results["celery_workers"].detail


def test_readyz_anonymous_gets_status_only_staff_gets_details(ops, host_client, tenant_a):
    for tenant in (None, tenant_a):
        anonymous = host_client(tenant).get("/readyz")
        assert anonymous.status_code == 200
        assert anonymous.json() == {"status": "ok"}
    detailed = host_client(None, staff()).get("/readyz")
    body = detailed.json()
    assert detailed.status_code == 200 and body["failing"] == []
    assert set(body["checks"]) == set(health.CHECKS)


def test_readyz_details_with_the_metrics_token(ops, settings, host_client):
    settings.DCP_METRICS_TOKEN = "s3cret-metrics-token"
    response = host_client(None).get("/readyz", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert "checks" in response.json()


@pytest.mark.parametrize(
    ("change", "check", "reason"),
    [
        (lambda c: {"db": {**c.db, "port": _closed_port()}}, "database", "OperationalError"),
        (lambda c: {"db": {**c.db, "dbname": "no_such_db_x"}}, "database", "no_such_db_x"),
        (lambda c: {"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"}, "redis", "Connection"),
        (lambda c: {"media_root": "/nonexistent/media"}, "storage", "does not exist"),
    ],
    ids=["db-closed-port", "db-wrong-name", "redis-closed-port", "storage-missing"],
)
def test_each_unavailable_dependency_fails_with_its_reason(ops, change, check, reason):
    broken = dataclasses.replace(ops, timeout=1.0, **change(ops))
    results = _by_name(health.run_checks(broken))
    assert not results[check].ok
    assert reason in results[check].detail, results[check].detail


def test_redis_down_also_fails_the_heartbeat_checks(ops):
    broken = dataclasses.replace(ops, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")
    results = _by_name(health.run_checks(broken))
    assert not results["celery_workers"].ok and not results["celery_beat"].ok


def test_unapplied_migration_fails_with_the_schema_named(ops, monkeypatch):
    expected = health.expected_migrations() | {("retention", "9999_not_applied")}
    monkeypatch.setattr(health, "expected_migrations", lambda: expected)
    result = _by_name(health.run_checks(ops))["migrations"]
    assert not result.ok
    assert "public: 1 unapplied (retention.9999_not_applied)" in result.detail
    assert "t_alpha: 1 unapplied" in result.detail


def test_missing_worker_heartbeat(ops, settings):
    client = health._redis(ops)
    for key in client.scan_iter(match=f"{settings.DCP_HEARTBEAT_PREFIX}:worker:*"):
        client.delete(key)
    result = _by_name(health.run_checks(ops))["celery_workers"]
    assert not result.ok and "no Celery worker heartbeat" in result.detail


def test_stale_worker_and_beat_heartbeats(ops, settings):
    client = health._redis(ops)
    old = f"{time.time() - 3600:.3f}"
    client.set(f"{settings.DCP_HEARTBEAT_PREFIX}:worker:celery@test-host", old)
    client.set(f"{settings.DCP_HEARTBEAT_PREFIX}:beat", old)
    results = _by_name(health.run_checks(ops))
    assert "within 60s" in results["celery_workers"].detail
    assert (
        "3600s old" in results["celery_beat"].detail
        or "old (limit" in results["celery_beat"].detail
    )


def test_missing_beat_heartbeat_makes_readyz_503_with_reason(ops, settings, host_client):
    health._redis(ops).delete(f"{settings.DCP_HEARTBEAT_PREFIX}:beat")
    assert host_client(None).get("/readyz").status_code == 503
    assert host_client(None).get("/readyz").json() == {"status": "unavailable"}
    body = host_client(None, staff()).get("/readyz").json()
    assert body["failing"] == ["celery_beat"]
    assert "no beat heartbeat" in body["checks"]["celery_beat"]["detail"]


def test_heartbeat_dispatch_is_a_dispatch_task_and_writes_the_beat_key(ops, settings):
    from dcp.celery import DispatchTask

    health._redis(ops).delete(f"{settings.DCP_HEARTBEAT_PREFIX}:beat")
    assert isinstance(health.heartbeat_dispatch, DispatchTask)
    assert health.heartbeat_dispatch.run() == 0
    assert _by_name(health.run_checks(ops))["celery_beat"].ok


def test_worker_bootstep_writes_from_the_worker_timer(ops, settings):
    class FakeTimer:
        def call_repeatedly(self, interval, fun, args, priority=0):
            self.interval = interval
            return type("T", (), {"cancel": lambda self: None})()

    class FakeWorker:
        hostname = "celery@bootstep-host"
        timer = FakeTimer()

    step = health.WorkerHeartbeat(FakeWorker())
    step.start(FakeWorker)
    assert FakeWorker.timer.interval == settings.DCP_WORKER_HEARTBEAT_INTERVAL
    assert "bootstep-host" in _by_name(health.run_checks(ops))["celery_workers"].detail
    step.stop(FakeWorker)
