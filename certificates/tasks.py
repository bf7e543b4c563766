"""Thin Celery tasks. Beat runs ``certificates.scan_dispatch`` daily; it fans out one
``certificates.scan_tenant`` per active tenant, which enqueues renewals and collections.
Provider calls retry with exponential backoff on timeouts, 429 and 5xx."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from dcp.celery import dispatch_task, fan_out, tenant_task

from . import lifecycle, services
from .providers import ProviderError

RETRY = {"max_retries": 6, "retry_backoff": 60, "retry_backoff_max": 3600}


@tenant_task(name="certificates.scan_tenant")
def scan_tenant() -> dict[str, Any]:
    report = lifecycle.scan()
    for pk in report.to_renew:
        transaction.on_commit(partial(renew_certificate.delay, pk))
    for pk in report.to_collect:
        transaction.on_commit(partial(issue_certificate.delay, pk))
    return {
        "expired": report.expired,
        "switched": report.switched,
        "to_renew": report.to_renew,
        "to_collect": report.to_collect,
        "alerts": report.alerts,
    }


@dispatch_task(name="certificates.scan_dispatch")
def scan_dispatch() -> int:
    return fan_out(scan_tenant)


def _retry_or_raise(task: Any, exc: ProviderError) -> None:
    if exc.retryable:
        countdown = min(
            RETRY["retry_backoff_max"], RETRY["retry_backoff"] * 2**task.request.retries
        )
        raise task.retry(exc=exc, countdown=countdown, max_retries=RETRY["max_retries"])
    raise exc


@tenant_task(name="certificates.renew_certificate", bind=True)
def renew_certificate(self: Any, certificate_id: int) -> int | None:
    try:
        cert = lifecycle.renew_certificate(certificate_id=certificate_id)
    except ProviderError as exc:
        _retry_or_raise(self, exc)
        return None
    return cert.pk if cert else None


@tenant_task(name="certificates.issue_certificate", bind=True)
def issue_certificate(self: Any, certificate_id: int) -> str:
    try:
        return services.issue_pending(certificate_id=certificate_id).state
    except ProviderError as exc:
        _retry_or_raise(self, exc)
        return "pending"
