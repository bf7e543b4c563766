"""Thin tasks: build a pack (retried when storage is unavailable), expire packs."""

from __future__ import annotations

from typing import Any

from dcp.celery import dispatch_task, fan_out, tenant_task
from evidence import services

STORAGE_RETRIES = 5


@tenant_task(name="evidence.build_pack", bind=True, max_retries=STORAGE_RETRIES, acks_late=True)
def build_pack(self: Any, pack_id: int) -> str:
    from django.db import connection

    tenant: Any = getattr(connection, "tenant", None)
    try:
        pack = services.build(pack_id, tenant_slug=tenant.slug, tenant_name=tenant.name)
    except services.StorageUnavailable as exc:
        if self.request.retries >= STORAGE_RETRIES:
            services.mark_failed(pack_id, str(exc))
            return "failed"
        services.mark_retrying(pack_id, str(exc))
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc
    except Exception as exc:
        services.mark_failed(pack_id, f"{type(exc).__name__}: {exc}")
        raise
    return pack.status if pack else "missing"


@tenant_task(name="evidence.expire_packs")
def expire_packs() -> int:
    return services.delete_expired_packs()


@dispatch_task(name="evidence.expire_dispatch")
def expire_dispatch() -> int:
    return fan_out(expire_packs)
