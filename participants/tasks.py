"""Scheduled onboarding work. Transfers (trade sale / supplier of last resort) are platform
records in the public schema that touch two tenants, so the runner is a dispatch task."""

from __future__ import annotations

from dcp.celery import dispatch_task
from participants.services.transfer import execute_due_transfers


@dispatch_task(name="participants.execute_transfers_dispatch")
def execute_transfers_dispatch() -> int:
    """Carry out every transfer whose cut-over has come (idempotent: executed ones are skipped)."""
    return execute_due_transfers()
