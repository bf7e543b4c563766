"""Push feed events to client endpoints, Standard Webhooks style, in order per MPAN.

Each POST carries one event: ``webhook-id`` = the feed event id (the idempotency key: a retry
repeats it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` =
``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`` — once per live secret, so
during a rotation's overlap the client may check either (``endpoints.rotate_secret``).

Order: events reach an endpoint in feed order (``seq``); an event for an MPAN is never pushed
while an earlier event for that MPAN is still undelivered there (it waits for its retry), and an
inbound message is pushed only after its L4 processing (``validated``/``rejected``). 2xx =
delivered; anything else is retried with the ``PUSH_RETRY_SCHEDULE`` back-off; an endpoint that
has been failing for ``PUSH_PAUSE_AFTER_HOURS`` is paused and alerted (audit + error log), and
its events wait — nothing is dropped — until it is resumed or replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dcp import vault
from dcp.db import current_schema
from dcp.net.http import guarded_client
from messaging import services as store
from messaging.inbound.models import ClientEndpoint, DeliveryAttempt, EndpointDelivery
from messaging.models import FeedEvent, Message
from messaging.states import Direction, State

log = logging.getLogger(__name__)
RUN_BUDGET = 20.0  # seconds per push run; the task re-enqueues itself when more is due
WINDOW = 500


# -- Standard Webhooks signing -----------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a client does (used by tests and docs): any v1 signature may match."""
    msg_id, ts = headers["webhook-id"], int(headers["webhook-timestamp"])
    if abs(time.time() - ts) > tolerance:
        return False
    expected = sign(secret, msg_id, ts, body)
    return any(
        hmac.compare_digest(expected, part) for part in headers["webhook-signature"].split(" ")
    )


def secret_context(endpoint_pk: int | None) -> str:
    return f"{current_schema()}:client-endpoint:{endpoint_pk}"


def live_secrets(endpoint: ClientEndpoint, now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    ctx = secret_context(endpoint.pk)
    out = [vault.unseal(endpoint.secret_sealed, context=ctx).decode()]
    if endpoint.previous_secret_sealed and (
        endpoint.previous_secret_until is None or endpoint.previous_secret_until > now
    ):
        out.append(vault.unseal(endpoint.previous_secret_sealed, context=ctx).decode())
    return out


# -- fan-out: feed events → deliveries ---------------------------------------------------------


def _matches(endpoint: ClientEndpoint, event: FeedEvent) -> bool:
    if endpoint.interfaces and event.interface_id not in endpoint.interfaces:
        return False
    direction = (event.payload or {}).get("direction", "")
    return not endpoint.directions or direction in endpoint.directions


def enqueue_new_events(limit: int = 5000) -> list[int]:
    """Give every endpoint a delivery row per new matching feed event; returns the ids of
    active endpoints with pending deliveries."""
    store.publish_feed_events()
    now = timezone.now()
    for endpoint_id in ClientEndpoint.objects.values_list("id", flat=True):
        with transaction.atomic():
            endpoint = (
                ClientEndpoint.objects.select_for_update(skip_locked=True)
                .filter(pk=endpoint_id)
                .first()
            )
            if endpoint is None:
                continue
            events = list(
                FeedEvent.objects.filter(seq__gt=endpoint.enqueued_through)
                .order_by("seq")
                .only("id", "seq", "mpan_core", "interface_id", "payload")[:limit]
            )
            if not events:
                continue
            EndpointDelivery.objects.bulk_create(
                [
                    EndpointDelivery(
                        endpoint=endpoint,
                        event=e,
                        seq=e.seq or 0,
                        mpan_core=e.mpan_core,
                        next_attempt_at=now,
                    )
                    for e in events
                    if _matches(endpoint, e)
                ],
                ignore_conflicts=True,
            )
            endpoint.enqueued_through = events[-1].seq or endpoint.enqueued_through
            endpoint.save(update_fields=["enqueued_through"])
    pending = EndpointDelivery.objects.filter(
        state=EndpointDelivery.State.PENDING, endpoint__state=ClientEndpoint.State.ACTIVE
    )
    return sorted(set(pending.values_list("endpoint_id", flat=True)))


# -- delivery ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    withheld: int = 0
    busy: bool = False
    more: bool = False


def _lock_key(endpoint_id: int) -> int:
    return (zlib.crc32(current_schema().encode()) << 31) | (endpoint_id & 0x7FFFFFFF)


def _retry_delay(attempts: int) -> timedelta:
    schedule = settings.PUSH_RETRY_SCHEDULE or [60]
    return timedelta(seconds=schedule[min(max(attempts, 1) - 1, len(schedule) - 1)])


def body_for_event(delivery: EndpointDelivery, cache: dict[int, list[Any]]) -> bytes:
    from messaging.inbound.processing import dip_message

    event = delivery.event
    message = event.message
    data: dict[str, Any] = {**(event.payload or {}), "seq": event.seq, "state": message.state}
    if message.direction == Direction.INBOUND:
        data["message"] = dip_message(message, cache).item
    return orjson.dumps({"type": event.kind, "timestamp": event.created.isoformat(), "data": data})


def push_endpoint(endpoint_id: int) -> Outcome:
    key = _lock_key(endpoint_id)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cur.fetchone()[0]:
            return Outcome(busy=True)
    try:
        outcome = _push(endpoint_id)
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [key])
    if outcome.more:
        from messaging.inbound.tasks import push_endpoint as task

        task.delay(endpoint_id)
    return outcome


def _endpoint_ready(endpoint: ClientEndpoint, now: datetime) -> bool:
    if endpoint.state != ClientEndpoint.State.ACTIVE:
        return False
    if endpoint.consecutive_failures and endpoint.last_failure_at:
        return now >= endpoint.last_failure_at + _retry_delay(endpoint.consecutive_failures)
    return True


def _push(endpoint_id: int) -> Outcome:
    outcome = Outcome()
    endpoint = ClientEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None or not _endpoint_ready(endpoint, timezone.now()):
        return outcome
    started = time.monotonic()
    cache: dict[int, list[Any]] = {}
    with guarded_client(timeout=settings.PUSH_TIMEOUT) as http:  # SSRF guard at connect time
        while time.monotonic() - started < RUN_BUDGET:
            done_before = outcome.sent + outcome.withheld
            stop = _push_window(endpoint, http, outcome, cache)
            if stop or outcome.sent + outcome.withheld == done_before:
                return outcome
        outcome.more = True
    return outcome


def _push_window(
    endpoint: ClientEndpoint, http: httpx.Client, outcome: Outcome, cache: dict[int, list[Any]]
) -> bool:
    """One pass over the oldest pending deliveries; True when the endpoint failed (stop)."""
    now = timezone.now()
    pending = (
        EndpointDelivery.objects.filter(endpoint=endpoint, state=EndpointDelivery.State.PENDING)
        .select_related("event", "event__message", "event__message__raw")
        .order_by("seq")[:WINDOW]
    )
    blocked: set[str] = set()
    for delivery in pending:
        order_key = delivery.mpan_core or f"#{delivery.pk}"
        if order_key in blocked:
            continue
        message = delivery.event.message
        if message.direction == Direction.INBOUND and message.withheld:
            # A duplicate kept from the client (docs/inbound.md "Duplicates"): never sent, and
            # it does not hold back later events for its MPAN.
            EndpointDelivery.objects.filter(
                pk=delivery.pk, state=EndpointDelivery.State.PENDING
            ).update(state=EndpointDelivery.State.WITHHELD)
            outcome.withheld += 1
            continue
        waiting = delivery.next_attempt_at > now or (
            message.direction == Direction.INBOUND and message.state == State.RECEIVED
        )
        if waiting:
            blocked.add(order_key)
            continue
        if _send(endpoint, delivery, http, cache):
            outcome.sent += 1
        else:
            outcome.failed += 1
            return True
    return False


def _send(
    endpoint: ClientEndpoint,
    delivery: EndpointDelivery,
    http: httpx.Client,
    cache: dict[int, list[Any]],
) -> bool:
    body = body_for_event(delivery, cache)
    msg_id = f"evt_{delivery.event_id}"
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(s, msg_id, ts, body) for s in live_secrets(endpoint)),
    }
    t0 = time.monotonic()
    status: int | None = None
    error = ""
    try:
        response = http.post(endpoint.url, content=body, headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    now = timezone.now()
    elapsed = int((time.monotonic() - t0) * 1000)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery, at=now, status_code=status, error=error, duration_ms=elapsed
        )
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if not error:
            delivery.state, delivery.delivered_at = EndpointDelivery.State.DELIVERED, now
        else:
            delivery.next_attempt_at = now + _retry_delay(delivery.attempts)
        delivery.save(
            update_fields=[
                "attempts",
                "last_status",
                "last_error",
                "state",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        if error:
            _record_failure(endpoint, now, error)
        else:
            _record_success(endpoint, now)
            mark_delivered(delivery.event.message, actor=f"endpoint:{endpoint.name}")
    return not error


def mark_delivered(message: Message, *, actor: str) -> None:
    if message.direction == Direction.INBOUND and message.state in (
        State.VALIDATED,
        State.REJECTED,
    ):
        store.transition(message, State.DELIVERED, actor=actor, reason="delivered to the client")


def _record_success(endpoint: ClientEndpoint, now: datetime) -> None:
    if endpoint.consecutive_failures or endpoint.last_success_at is None:
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
    endpoint.last_success_at = now
    ClientEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=0, failing_since=None, last_success_at=now
    )


def _record_failure(endpoint: ClientEndpoint, now: datetime, error: str) -> None:
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.last_failure_at, endpoint.last_error = now, error[:500]
    fields = ["consecutive_failures", "failing_since", "last_failure_at", "last_error"]
    if now - endpoint.failing_since >= timedelta(hours=settings.PUSH_PAUSE_AFTER_HOURS):
        from messaging.inbound.endpoints import pause_for_failures

        pause_for_failures(endpoint, now=now)
    ClientEndpoint.objects.filter(pk=endpoint.pk).update(
        **{f: getattr(endpoint, f) for f in fields}
    )
