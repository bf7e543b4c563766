"""Send the level 4 status messages we owe the DIP (``POST /statusmessage``, PROTOCOL.md §5.2).

Due ``StatusReply`` rows are sent in batches per sending DIP ID (one signed call carries many
StandardResponse items). Accepted → ``sent``; rejected or unreachable → ``failed`` with the next
attempt pushed back (``dip.backoff``-style doubling, capped at an hour); the sweeper retries.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import groupby

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from messaging.inbound.dipconn import NotConfigured, client_for
from messaging.inbound.models import StatusReply

log = logging.getLogger(__name__)
BATCH = 200
LEASE = timedelta(minutes=2)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** min(attempts, 12)))


def send_due_status_replies(*, limit: int = 2000) -> int:
    """Send due status replies; returns how many were accepted by the DIP."""
    if not settings.INBOUND_SEND_L4_STATUS:
        return 0
    now = timezone.now()
    with transaction.atomic():  # claim: a lease other workers skip, then send outside it
        due = list(
            StatusReply.objects.select_for_update(skip_locked=True)
            .exclude(state=StatusReply.State.SENT)
            .filter(next_attempt_at__lte=now)
            .order_by("dip_id", "environment", "id")[:limit]
        )
        StatusReply.objects.filter(pk__in=[r.pk for r in due]).update(next_attempt_at=now + LEASE)
    sent = 0
    for (dip_id, environment), group in groupby(due, key=lambda r: (r.dip_id, r.environment)):
        rows = list(group)
        for start in range(0, len(rows), BATCH):
            sent += _send(dip_id, environment, rows[start : start + BATCH])
    return sent


def _send(dip_id: str, environment: str, rows: list[StatusReply]) -> int:
    now = timezone.now()
    try:
        with client_for(dip_id, environment) as client:
            result = client.submit_status_messages(orjson.dumps([r.body for r in rows]))
        error = "" if result.accepted else f"HTTP {result.status_code}: {result.error or ''}"
        if not result.accepted and result.content:
            error = f"{error} {result.content[:300]!r}"
    except NotConfigured as exc:
        error = f"not configured: {exc}"
    except Exception as exc:  # transport problems: retry later
        error = f"{type(exc).__name__}: {exc}"
    ids = [r.pk for r in rows]
    if not error:
        StatusReply.objects.filter(pk__in=ids).update(
            state=StatusReply.State.SENT, sent_at=now, last_error=""
        )
        return len(rows)
    log.warning("inbound: L4 status for %s not sent: %s", dip_id, error)
    for r in rows:
        StatusReply.objects.filter(pk=r.pk).update(
            state=StatusReply.State.FAILED,
            attempts=r.attempts + 1,
            next_attempt_at=now + _backoff(r.attempts),
            last_error=error[:500],
        )
    return 0
