"""Whether the DIP of an environment takes sends, and what the sender does about it
(docs/outbound.md, "DIP outage"). Owned by the outbound pipeline (``DipAvailability``).

* Every send answer is noted: a transport failure or 5xx (``note_failure``) extends the current
  run of failures; when it is ``OUTAGE_AFTER_FAILURES`` long *and* spans
  ``OUTAGE_AFTER_SECONDS`` the environment's DIP is marked unavailable (audited). Any real
  answer (201, 400, 401 …: ``note_answer``) ends the run — and ends an outage: the DIP is
  available again, backed-off entries become due at once and the backlog drains.
* ``gate()`` is asked before each claim: while the DIP is unavailable the sender spends no
  retries, it only sends one probe batch every ``PROBE_INTERVAL``; after a 429 it waits out the
  ``Retry-After``; while draining it paces sends to ``DRAIN_RATE`` messages per second.
* Client submissions are unaffected (they are stored and queued as always); the state is shown
  to clients by ``selectors.availability``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db import connection, transaction
from django.utils import timezone

from audit.services import record as audit
from messaging.outbound.conf import OutboundSettings
from messaging.outbound.models import DipAvailability, OutboxEntry

ACTOR_SUMMARY = "outbound sender"


class GateKind(StrEnum):
    SEND = "send"
    PROBE = "probe"  # unavailable: this caller sends one batch to find out
    WAIT = "wait"  # unavailable and not time to probe, or paused by a 429


@dataclass(frozen=True)
class Gate:
    kind: GateKind
    draining: bool = False


def _row(environment: str) -> DipAvailability:
    row, _ = DipAvailability.objects.get_or_create(environment=environment)
    return row


def gate(*, environment: str, conf: OutboundSettings) -> Gate:
    now = timezone.now()
    row = DipAvailability.objects.filter(environment=environment).first()
    if row is None:
        return Gate(GateKind.SEND)
    if row.paused_until is not None and row.paused_until > now:
        return Gate(GateKind.WAIT)
    if row.available:
        return Gate(GateKind.SEND, draining=row.draining)
    taken = DipAvailability.objects.filter(
        environment=environment, available=False, next_probe_at__lte=now
    ).update(last_probe_at=now, next_probe_at=now + timedelta(seconds=conf.probe_interval))
    return Gate(GateKind.PROBE if taken else GateKind.WAIT)


def ready_probe(*, environment: str, dip_id: str, interface_id: str) -> None:
    """Unavailable: the group's entries are all waiting for the DIP anyway, so whatever is
    backing off is due now — the probe then carries the oldest batch (the gate still keeps
    everything else back until the DIP answers)."""
    OutboxEntry.objects.filter(
        environment=environment,
        dip_id=dip_id,
        interface_id=interface_id,
        pending=True,
        held_at__isnull=True,
        due_at__gt=timezone.now(),
    ).update(due_at=timezone.now())


def release_probe(*, environment: str) -> None:
    """The probe found nothing to send in its group: let another group probe now."""
    DipAvailability.objects.filter(environment=environment, available=False).update(
        next_probe_at=timezone.now()
    )


def note_failure(*, environment: str, error: str, conf: OutboundSettings) -> None:
    """A send ended in a transport error or a 5xx (call inside the outcome's transaction)."""
    now = timezone.now()
    row = DipAvailability.objects.select_for_update().filter(environment=environment).first()
    if row is None:
        _row(environment)
        row = DipAvailability.objects.select_for_update().get(environment=environment)
    row.failures += 1
    row.failing_since = row.failing_since or now
    row.last_error = error[:500]
    fields = ["failures", "failing_since", "last_error", "updated"]
    if (
        row.available
        and row.failures >= conf.outage_after_failures
        and (now - row.failing_since).total_seconds() >= conf.outage_after_seconds
    ):
        row.available, row.draining = False, False
        row.unavailable_since = row.failing_since
        row.next_probe_at = now + timedelta(seconds=conf.probe_interval)
        row.outages += 1
        fields += ["available", "draining", "unavailable_since", "next_probe_at", "outages"]
        audit(
            action="outbound.dip_unavailable",
            target=row,
            summary=(
                f"DIP {environment} unavailable since {row.failing_since:%Y-%m-%d %H:%M:%S} "
                f"UTC: {row.failures} transport/5xx failures in a row ({error[:200]}); "
                "sends stop, one probe every "
                f"{conf.probe_interval:g} s, submissions keep being queued"
            ),
            changes={"available": [True, False], "failures": row.failures},
        )
    row.save(update_fields=fields)


def note_answer(*, environment: str) -> bool:
    """The DIP answered (not a transport error or 5xx). Returns True if this ended an outage."""
    touched = DipAvailability.objects.filter(environment=environment).exclude(
        available=True, failures=0
    )
    if not touched.exists():
        return False
    row = DipAvailability.objects.select_for_update().get(environment=environment)
    was_down = not row.available
    now = timezone.now()
    row.failures, row.failing_since = 0, None
    fields = ["failures", "failing_since", "updated"]
    if was_down:
        since = row.unavailable_since
        row.available, row.draining, row.recovered_at = True, True, now
        row.unavailable_since, row.next_probe_at, row.pace_at = None, None, None
        fields += ["available", "draining", "recovered_at", "unavailable_since"]
        fields += ["next_probe_at", "pace_at"]
        # Entries backing off from the outage are due now; the drain keeps per-MPAN order.
        OutboxEntry.objects.filter(
            environment=environment, pending=True, held_at__isnull=True, due_at__gt=now
        ).update(due_at=now)
        audit(
            action="outbound.dip_available",
            target=row,
            summary=(
                f"DIP {environment} answering again after {_span(since, now)}; draining the backlog"
            ),
            changes={"available": [False, True]},
        )
        transaction.on_commit(_wake_senders)
    row.save(update_fields=fields)
    return was_down


def _span(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "an outage"
    seconds = int((now - since).total_seconds())
    return f"{seconds // 3600} h {seconds % 3600 // 60} min {seconds % 60} s unavailable"


def _wake_senders() -> None:
    from messaging.outbound.services.sender import sweep

    with contextlib.suppress(Exception):  # broker down: the beat sweeper will do it
        sweep()


def pause(*, environment: str, seconds: float) -> None:
    """A 429: nothing is sent to this environment before ``Retry-After`` has passed."""
    until = timezone.now() + timedelta(seconds=seconds)
    _row(environment)
    DipAvailability.objects.filter(environment=environment).update(paused_until=until)


def pace(*, environment: str, count: int, conf: OutboundSettings, budget: float) -> None:
    """Draining: reserve ``count`` messages' worth of the environment's ``DRAIN_RATE`` and sleep
    until the reserved slot starts (at most ``budget`` seconds)."""
    if conf.drain_rate <= 0 or count <= 0:
        return
    step = count / conf.drain_rate
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE messaging_outbound_dipavailability "
            "SET pace_at = GREATEST(COALESCE(pace_at, now()), now()) "
            "+ make_interval(secs => %s) WHERE environment = %s "
            "RETURNING EXTRACT(EPOCH FROM (pace_at - now()))",
            [step, environment],
        )
        row = cur.fetchone()
    if row is None:
        return
    wait = float(row[0]) - step  # the start of our slot, from now
    if wait > 0:
        time.sleep(min(wait, budget))


def end_drain_if_done(*, environment: str) -> None:
    """The backlog from before the recovery is gone: stop pacing."""
    row = DipAvailability.objects.filter(environment=environment, draining=True).first()
    if row is None or row.recovered_at is None:
        return
    left = OutboxEntry.objects.filter(
        environment=environment,
        pending=True,
        held_at__isnull=True,
        queued_at__lte=row.recovered_at,
    ).exists()
    if not left:
        DipAvailability.objects.filter(pk=row.pk).update(draining=False)
