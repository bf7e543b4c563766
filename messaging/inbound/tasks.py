"""Thin tasks over the inbound services. Queues: ``inbound`` (processing, status replies,
sweeping, archiving) and ``delivery`` (``push_*``: client webhooks). The database is the source
of truth; every task is idempotent and the sweeper (``sweep_dispatch``, every 30 s by beat)
re-enqueues whatever is due, so a lost broker message (Redis flushed, worker killed) only
delays work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dcp.celery import dispatch_task, fan_out, tenant_task

STALE_AFTER = timedelta(seconds=20)  # default of INBOUND_STALE_AFTER (drills shorten it)


@tenant_task(name="messaging_inbound.process_messages", acks_late=True, ignore_result=True)
def process_messages(
    message_ids: list[int], receipt_id: int | None = None, receipt_ids: list[int] | None = None
) -> int:
    """L2-L4 for ``message_ids``; duplicates recorded for the receipts (one per callback; the
    webhook's nudge batches several callbacks into one task)."""
    from messaging.inbound import processing

    moved = processing.process_messages(message_ids)
    for rid in [*([receipt_id] if receipt_id is not None else []), *(receipt_ids or [])]:
        processing.record_duplicates(rid)
    transaction.on_commit(_after_processing, robust=True)
    return moved


def _after_processing() -> None:
    send_status_replies.delay()
    push_all.delay()


@tenant_task(name="messaging_inbound.send_status_replies", acks_late=True)
def send_status_replies() -> int:
    from messaging.inbound.status import send_due_status_replies

    return send_due_status_replies()


@tenant_task(name="messaging_inbound.push_all", acks_late=True)
def push_all() -> int:
    """Fan feed events out to every active endpoint of this tenant and push each one."""
    from messaging.inbound import push

    ids = push.enqueue_new_events()
    for endpoint_id in ids:
        push_endpoint.delay(endpoint_id)
    return len(ids)


BUSY_RETRIES = 30


@tenant_task(name="messaging_inbound.push_endpoint", acks_late=True)
def push_endpoint(endpoint_id: int, busy_retries: int = 0) -> dict[str, Any]:
    from messaging.inbound import push

    outcome = push.push_endpoint(endpoint_id)
    if outcome.busy and busy_retries < BUSY_RETRIES:
        # Another worker is pushing to this endpoint and may have read its window before our
        # deliveries existed: look again in a second rather than wait for the sweeper.
        push_endpoint.apply_async((endpoint_id, busy_retries + 1), countdown=1)
    return {"sent": outcome.sent, "failed": outcome.failed, "busy": outcome.busy}


@tenant_task(name="messaging_inbound.sweep")
def sweep() -> dict[str, int]:
    """Re-enqueue what a lost nudge left behind: stale received messages, due status replies
    and deliveries."""
    from messaging.models import Message
    from messaging.states import Direction, State

    stale = list(
        Message.objects.filter(
            direction=Direction.INBOUND,
            state=State.RECEIVED,
            created__lt=timezone.now()
            - timedelta(seconds=getattr(settings, "INBOUND_STALE_AFTER", STALE_AFTER.seconds)),
        )
        .order_by("id")
        .values_list("id", flat=True)[:5000]
    )
    for start in range(0, len(stale), 500):
        process_messages.delay(stale[start : start + 500])
    send_status_replies.delay()
    push_all.delay()
    return {"reprocess": len(stale)}


@dispatch_task(name="messaging_inbound.sweep_dispatch")
def sweep_dispatch() -> int:
    return fan_out(sweep)


@tenant_task(name="messaging_inbound.archive_raw")
def archive_raw() -> int:
    from messaging.inbound.archive import archive_old_raw_bodies

    return archive_old_raw_bodies()


@dispatch_task(name="messaging_inbound.archive_dispatch")
def archive_dispatch() -> int:
    return fan_out(archive_raw, statuses=("active", "suspended", "offboarding"))
