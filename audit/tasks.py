"""Scheduled chain verification: a dispatch task fans out one verification per tenant."""

from __future__ import annotations

import logging

from audit.selectors import verify_chain
from dcp.celery import dispatch_task, fan_out, tenant_task
from dcp.db import current_schema

log = logging.getLogger(__name__)


@tenant_task(name="audit.verify_tenant_chain")
def verify_tenant_chain() -> dict[str, object]:
    report = verify_chain(current_schema())
    if not report.ok:
        log.critical(
            "audit chain of %s FAILED verification: %s", report.schema, "; ".join(report.problems)
        )
    return {"schema": report.schema, "count": report.count, "ok": report.ok}


@dispatch_task(name="audit.verify_chains_dispatch")
def verify_chains_dispatch() -> int:
    public = verify_chain("public")
    if not public.ok:
        log.critical("public audit chain FAILED verification: %s", "; ".join(public.problems))
    return fan_out(verify_tenant_chain, statuses=("active", "suspended", "offboarding"))
