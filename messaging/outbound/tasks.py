"""Thin Celery tasks of the outbound pipeline (queue "outbound"). Idempotent: running one twice
sends nothing twice (claims are leased, states move only forward)."""

from __future__ import annotations

from dcp.celery import dispatch_task, fan_out, tenant_task
from messaging.outbound.services import sender, status


@tenant_task(name="messaging_outbound.send_group", acks_late=True)
def send_group(environment: str, dip_id: str, interface_id: str) -> int:
    return sender.send_group(environment=environment, dip_id=dip_id, interface_id=interface_id)


@tenant_task(name="messaging_outbound.sweep")
def sweep() -> int:
    return sender.sweep()


@dispatch_task(name="messaging_outbound.sweep_dispatch")
def sweep_dispatch() -> int:
    return fan_out(sweep)


@tenant_task(name="messaging_outbound.close_status_windows")
def close_status_windows() -> int:
    """Settle "no issue reported" the accepted messages whose status window ended quietly."""
    return status.close_status_windows()


@dispatch_task(name="messaging_outbound.timers_dispatch")
def timers_dispatch() -> int:
    return fan_out(close_status_windows)
