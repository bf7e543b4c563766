"""Thin tasks: bulk actions run a bounded number of chunks per task run, then re-enqueue
themselves, so one million-message requeue never holds a worker for long."""

from __future__ import annotations

from dcp.celery import dispatch_task, fan_out, tenant_task

CHUNKS_PER_RUN = 20


@tenant_task(name="console.run_bulk_action", ignore_result=True)
def run_bulk_action(action_id: int) -> None:
    from console.models import BulkAction
    from console.services import _enqueue, run_bulk

    action = run_bulk(action_id, max_chunks=CHUNKS_PER_RUN)
    if action.status == BulkAction.Status.RUNNING:
        _enqueue(action_id)


@tenant_task(name="console.evaluate_alerts", ignore_result=True)
def evaluate_alerts() -> None:
    from console.alerts import evaluate

    evaluate()


@dispatch_task(name="console.alerts_dispatch", ignore_result=True)
def alerts_dispatch() -> int:
    return fan_out(evaluate_alerts)
