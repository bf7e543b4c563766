"""Every Celery task is tenant-aware: either tenant-scoped (runs in the schema it was sent
from and refuses the public schema) or an explicit *_dispatch fan-out. Runs a real worker
against the real Redis broker."""

from __future__ import annotations

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from django.db import connection
from django_tenants.utils import tenant_context

from dcp.celery import DispatchTask, TenantScopedError, TenantScopedTask, app, dispatch_task
from tenants.models import Tenant


def _project_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_is_tenant_scoped_or_dispatch():
    tasks = _project_tasks()
    assert tasks, "no project tasks registered"
    offenders = [
        name
        for name, task in tasks.items()
        if not isinstance(task, TenantScopedTask | DispatchTask)
    ]
    assert not offenders, f"tasks neither tenant-scoped nor dispatch: {offenders}"
    for name, task in tasks.items():
        if isinstance(task, DispatchTask):
            assert name.endswith("_dispatch"), name


def test_the_check_would_catch_a_plain_task():
    @app.task(name="tests.plain_task")
    def plain() -> None:
        return None

    try:
        assert not isinstance(app.tasks["tests.plain_task"], TenantScopedTask | DispatchTask)
    finally:
        app.tasks.unregister("tests.plain_task")


def test_dispatch_names_are_enforced():
    with pytest.raises(ValueError, match="_dispatch"):
        dispatch_task(name="tests.fan_out")(lambda: None)


def test_beat_schedules_only_dispatch_tasks(settings):
    tasks = _project_tasks()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert isinstance(tasks[entry["task"]], DispatchTask), entry["task"]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        start_worker(
            app, perform_ping_check=False, pool="threads", concurrency=2, loglevel="WARNING"
        ) as w,
    ):
        yield w


@pytest.fixture
def ran():
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on_prerun(sender=None, **_):
        with lock:
            seen.append((sender.name, connection.schema_name))

    task_prerun.connect(on_prerun, weak=False)
    yield seen
    task_prerun.disconnect(on_prerun)


@pytest.mark.django_db
def test_tenant_task_runs_in_the_schema_it_was_sent_from(worker, tenant_a, tenant_b):
    from audit.tasks import verify_tenant_chain

    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            result = verify_tenant_chain.delay()
        assert result.get(timeout=30)["schema"] == tenant.schema_name


@pytest.mark.django_db
def test_tenant_task_sent_from_public_refuses_to_run(worker):
    from audit.tasks import verify_tenant_chain

    result = verify_tenant_chain.delay()
    with pytest.raises(TenantScopedError, match="public schema"):
        result.get(timeout=30)


@pytest.mark.django_db
def test_dispatch_fans_out_one_task_per_tenant(worker, ran):
    import time

    from audit.tasks import verify_chains_dispatch

    expected = set(
        Tenant.objects.filter(
            kind=Tenant.Kind.CLIENT, status__in=["active", "suspended", "offboarding"]
        ).values_list("schema_name", flat=True)
    )
    count = verify_chains_dispatch.delay().get(timeout=30)
    assert count == len(expected)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = {schema for name, schema in ran if name == "audit.verify_tenant_chain"}
        if done >= expected:
            break
        time.sleep(0.1)
    assert done >= expected
    assert ("audit.verify_chains_dispatch", "public") in ran
