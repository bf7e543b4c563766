"""The Celery application. Every task is tenant-aware (tenant-schemas-celery carries the
schema in the message headers) and must be declared either as a tenant task (refuses to run in
the public schema) or as an explicit ``*_dispatch`` task that fans out one tenant task per
active tenant. ``tests/test_celery_tasks.py`` fails if any registered task is neither."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings.dev")

app = CeleryApp("dcp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class TenantScopedError(RuntimeError):
    pass


class TenantScopedTask(TenantTask):
    """A task that works inside one tenant's schema. Sent from a tenant context (the schema
    travels in the headers); refuses to run in the public schema rather than silently reading
    or writing platform tables."""

    abstract = True
    tenant_scoped = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dcp.db import current_schema

        if current_schema() == "public":
            raise TenantScopedError(
                f"{self.name} is tenant-scoped but was sent from the public schema; "
                "send it inside tenant_context() or from a *_dispatch task."
            )
        return super().__call__(*args, **kwargs)


class DispatchTask(TenantTask):
    """A cross-tenant task that runs in the public schema and enqueues tenant tasks."""

    abstract = True
    dispatch = True


def tenant_task(*args: Any, **opts: Any) -> Any:
    """Decorator for tenant-scoped tasks: ``@tenant_task(name="messaging.send_outbound")``."""
    opts.setdefault("base", TenantScopedTask)
    return app.task(*args, **opts)


def dispatch_task(*args: Any, **opts: Any) -> Any:
    """Decorator for fan-out tasks; their names must end in ``_dispatch``."""
    opts.setdefault("base", DispatchTask)
    name = opts.get("name", "")
    if not name.endswith("_dispatch"):
        raise ValueError(f"dispatch task names must end in '_dispatch' (got {name!r})")
    return app.task(*args, **opts)


def fan_out(task: Any, *args: Any, statuses: tuple[str, ...] = ("active",), **kwargs: Any) -> int:
    """Enqueue ``task`` once per client tenant with one of ``statuses``; returns the count."""
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant

    count = 0
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT, status__in=statuses)
    for tenant in tenants.only("id", "schema_name", "slug"):
        with tenant_context(tenant):
            task.delay(*args, **kwargs)
        count += 1
    return count


Decorator = Callable[[Callable[..., Any]], Any]
