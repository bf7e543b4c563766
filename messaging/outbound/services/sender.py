"""The sender: claim due outbox entries of one (environment, DIP ID, interface) group as a DIP
batch, sign and POST it, record the attempt and move the messages on.

* ``nudge()`` enqueues ``send_group`` after a submission commits (deduplicated in the cache;
  the flag is cleared before every claim, so a nudge is never lost between claims).
* ``claim()`` is serialised per group by a transaction-level advisory lock and leases what it
  takes; an entry whose lease runs out (a killed worker) is claimable again and is resent with
  the *same* bytes and senderUniqueReference.
* Per-MPAN order: an ordered entry is not claimed while an earlier pending entry for the same
  MPAN is in flight, backing off, or waiting in another group.
* ``send_group()`` holds a tenant slot and a DIP ID slot (``slots``) while it works and yields
  the worker after ``LOOP_SECONDS`` so other tenants get their turn.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from dcp import metrics
from dcp.db import current_schema
from messaging.models import Message
from messaging.outbound.conf import OutboundSettings, outbound_settings
from messaging.outbound.models import OutboxEntry
from messaging.outbound.services import availability, outcome
from messaging.outbound.services.availability import GateKind
from messaging.outbound.services.clients import NotConfigured, sender_for
from messaging.outbound.services.slots import send_slots

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}"
_NUDGE_TTL = 30  # seconds; the flag is cleared by the sender, this only bounds a lost one

# Three ways to claim, tried in this order (each serialised per group, leasing what it takes):
# 1. a batch sent before whose answer never came (or a half of a batch refused with generic
#    codes only): the same entries again (same composition, same bytes), unless one of them
#    has an earlier pending entry for its MPAN outside the batch;
# 2. an isolated ("solo") entry, alone;
# 3. due entries in message order, per-MPAN order kept: an ordered entry waits while an earlier
#    pending one for its MPAN is in flight, backing off, in another group, isolated or part of
#    a batch to resend.
# Claiming marks an entry "maybe at the DIP" if its previous lease ran out unanswered (a worker
# died mid-send), and tags the claim (batch_key) so that a lost answer resends the same batch.
_SET = """
SET lease_until = %(now)s + make_interval(secs => %(lease)s),
    attempts = e.attempts + 1,
    first_attempt_at = COALESCE(e.first_attempt_at, %(now)s),
    maybe_at_dip = e.maybe_at_dip OR e.lease_until IS NOT NULL,
    batch_key = CASE WHEN e.batch_key = '' THEN %(key)s ELSE e.batch_key END
"""
_GROUP = """o.pending AND o.environment = %(env)s AND o.dip_id = %(dip)s
      AND o.interface_id = %(iface)s AND o.due_at <= %(now)s
      AND (o.lease_until IS NULL OR o.lease_until < %(now)s)"""
_CLAIM_RESEND = f"""
WITH pick AS (
    SELECT o.batch_key FROM messaging_outbound_outboxentry o
    WHERE {_GROUP} AND o.batch_key <> ''
      AND NOT EXISTS (
          SELECT 1 FROM messaging_outbound_outboxentry m
          JOIN messaging_outbound_outboxentry p
            ON p.mpan_core = m.mpan_core AND p.pending AND p.ordered
           AND p.message_id < m.message_id AND p.batch_key <> m.batch_key
          WHERE m.batch_key = o.batch_key AND m.pending AND m.ordered)
    ORDER BY o.message_id LIMIT 1
)
UPDATE messaging_outbound_outboxentry e {_SET}
FROM pick WHERE e.batch_key = pick.batch_key AND e.pending
  AND (e.lease_until IS NULL OR e.lease_until < %(now)s)
RETURNING e.message_id
"""  # noqa: S608 (only module constants are interpolated)
_CLAIM_SOLO = f"""
WITH due AS (
    SELECT o.message_id FROM messaging_outbound_outboxentry o
    WHERE {_GROUP} AND o.solo AND o.batch_key = ''
      AND NOT (o.ordered AND EXISTS (
          SELECT 1 FROM messaging_outbound_outboxentry p
          WHERE p.pending AND p.ordered AND p.mpan_core = o.mpan_core
            AND p.message_id < o.message_id))
    ORDER BY o.message_id LIMIT 1
)
UPDATE messaging_outbound_outboxentry e {_SET}
FROM due WHERE e.message_id = due.message_id
RETURNING e.message_id
"""  # noqa: S608 (only module constants are interpolated)
_CLAIM = f"""
WITH due AS (
    SELECT o.message_id FROM messaging_outbound_outboxentry o
    WHERE {_GROUP} AND NOT o.solo AND o.batch_key = ''
      AND NOT (o.ordered AND EXISTS (
          SELECT 1 FROM messaging_outbound_outboxentry p
          WHERE p.pending AND p.ordered AND p.mpan_core = o.mpan_core
            AND p.message_id < o.message_id
            AND (p.environment <> o.environment OR p.dip_id <> o.dip_id
                 OR p.interface_id <> o.interface_id OR p.due_at > %(now)s
                 OR (p.lease_until IS NOT NULL AND p.lease_until >= %(now)s)
                 OR p.solo OR p.batch_key <> '')))
    ORDER BY o.message_id
    LIMIT %(limit)s
)
UPDATE messaging_outbound_outboxentry e {_SET}
FROM due WHERE e.message_id = due.message_id
RETURNING e.message_id
"""  # noqa: S608 (only module constants are interpolated)


@dataclass(frozen=True)
class Group:
    environment: str
    dip_id: str
    interface_id: str


def _nudge_key(group: Group) -> str:
    schema = current_schema()
    return f"outbound:nudge:{schema}:{group.environment}:{group.dip_id}:{group.interface_id}"


def nudge(environment: str, dip_id: str, interface_id: str, *, force: bool = False) -> bool:
    """Ask a worker to send this group's due entries; at most one nudge waits at a time."""
    from messaging.outbound.tasks import send_group

    group = Group(environment, dip_id, interface_id)
    try:
        first = cache.add(_nudge_key(group), 1, timeout=_NUDGE_TTL)
    except Exception:  # cache (Redis) down: nudge anyway, the sweeper covers a lost one
        first = True
    if not (first or force):
        return False
    try:
        send_group.delay(environment, dip_id, interface_id)
    except Exception:  # broker down: the row is committed, the sweeper will find it
        log.warning("outbound nudge failed for %s; the sweeper will send it", group)
        return False
    return True


class Claimed(list[OutboxEntry]):
    """Claimed entries; ``resend``: exactly a batch sent before whose answer never came."""

    resend: bool = False


def claim(group: Group, conf: OutboundSettings) -> Claimed:
    params: dict[str, Any] = {
        "env": group.environment,
        "dip": group.dip_id,
        "iface": group.interface_id,
        "limit": conf.batch_size_for(group.interface_id),
        "lease": conf.lease_seconds,
        "now": timezone.now(),
        "key": uuid.uuid4().hex,
    }
    with transaction.atomic(), connection.cursor() as cur:
        lock = zlib.crc32(f"claim:{group}".encode()) - 2**31
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        ids: list[int] = []
        for sql in (_CLAIM_RESEND, _CLAIM_SOLO, _CLAIM):
            cur.execute(sql, params)
            ids = [row[0] for row in cur.fetchall()]
            if ids:
                break
    claimed = Claimed(OutboxEntry.objects.filter(message_id__in=ids).order_by("message_id"))
    claimed.resend = bool(ids) and sql is _CLAIM_RESEND
    return claimed


def send_group(*, environment: str, dip_id: str, interface_id: str) -> int:
    """Send due entries of the group until none is left or the loop budget is spent. While
    the environment's DIP is unavailable only a probe batch goes out now and then
    (``availability.gate``); while it drains its backlog, sends are paced."""
    conf = outbound_settings()
    group = Group(environment, dip_id, interface_id)
    sent = 0
    with send_slots(
        dip_id=dip_id, tenant_limit=conf.tenant_concurrency, dip_id_limit=conf.dip_id_concurrency
    ) as ok:
        if not ok:
            return 0  # the slot holders loop until the group is empty
        deadline = time.monotonic() + conf.loop_seconds
        while True:
            with contextlib.suppress(Exception):  # cache down: the sweeper covers us
                cache.delete(_nudge_key(group))
            gate = availability.gate(environment=environment, conf=conf)
            if gate.kind is GateKind.WAIT:
                return sent  # the sweeper comes back (probe due, Retry-After over)
            if gate.kind is GateKind.PROBE:
                availability.ready_probe(
                    environment=environment, dip_id=dip_id, interface_id=interface_id
                )
            entries = claim(group, conf)
            if not entries:
                if gate.kind is GateKind.PROBE:
                    availability.release_probe(environment=environment)
                elif gate.draining:
                    availability.end_drain_if_done(environment=environment)
                return sent
            if gate.draining:
                budget = max(0.0, deadline - time.monotonic())
                availability.pace(
                    environment=environment, count=len(entries), conf=conf, budget=budget
                )
            sent += send_batch(group, entries, conf)
            if gate.kind is GateKind.PROBE:
                return sent  # recovered: note_answer wakes every group; else next probe
            if time.monotonic() > deadline:
                break
    nudge(environment, dip_id, interface_id, force=True)  # more to do: yield, come back
    return sent


def send_batch(group: Group, entries: list[OutboxEntry], conf: OutboundSettings) -> int:
    messages = list(
        Message.objects.filter(pk__in=[e.message_id for e in entries])
        .select_related("raw")
        .order_by("id")
    )
    from messaging.services import raw_bytes

    items = [raw_bytes(m.raw) for m in messages]
    body = b"[" + b",".join(i[1:-1] for i in items) + b"]"  # each raw is a one-element array
    try:
        sender = sender_for(environment=group.environment, dip_id=group.dip_id)
    except NotConfigured as exc:
        outcome.not_configured(entries, messages, str(exc), conf)
        return 0
    started = timezone.now()
    t0 = time.perf_counter()
    result = sender.client.send(group.interface_id, body)
    duration = time.perf_counter() - t0
    if result.status_code is not None:  # the DIP answered: its synchronous acknowledgement time
        metrics.observe_send_ack(duration, interface=group.interface_id)
    outcome.record(
        group=group,
        entries=entries,
        messages=messages,
        body=body,
        result=result,
        sender=sender,
        started=started,
        finished=started + timedelta(seconds=duration),
        conf=conf,
        worker=WORKER,
        resend=getattr(entries, "resend", False),
    )
    return len(messages)


def sweep() -> int:
    """Re-enqueue every group with due entries not in flight (beat, via sweep_dispatch)."""
    from messaging.outbound.tasks import send_group as task

    now = timezone.now()
    groups = (
        OutboxEntry.objects.filter(pending=True, due_at__lte=now)
        .exclude(lease_until__gte=now)
        .values_list("environment", "dip_id", "interface_id")
        .distinct()
    )
    count = 0
    for environment, dip_id, interface_id in groups:
        task.delay(environment, dip_id, interface_id)
        count += 1
    return count
