"""Scheduled retention: beat runs the dispatch, which fans out one purge per tenant."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dcp.celery import dispatch_task, fan_out, tenant_task


@tenant_task(name="retention.purge_tenant")
def purge_tenant() -> dict[str, Any]:
    from retention.services import purge

    return asdict(purge())


@dispatch_task(name="retention.purge_dispatch")
def purge_dispatch() -> int:
    return fan_out(purge_tenant, statuses=("active", "suspended", "offboarding"))
