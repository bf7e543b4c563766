"""The pull feed over ``messaging.FeedEvent`` (``messaging.selectors.feed_after``).

Reading with ``after=N`` acknowledges events up to N: the consumer's durable cursor
(:class:`FeedCursor`) moves to N and inbound messages whose events are at or below N (and that
finished L4 processing) count as delivered to the client.

Messages withheld as duplicates (docs/inbound.md "Duplicates") are left out of the pages once
processing has withheld them (their sequence numbers are skipped) and never count as delivered.
Unlike the push, the feed does not wait for processing: an event read while its message is
still ``received`` is handed out as such (one stuck message must not stall the whole feed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from messaging.inbound.models import FeedCursor
from messaging.inbound.processing import dip_message
from messaging.inbound.push import mark_delivered
from messaging.models import FeedEvent, Message
from messaging.selectors import feed_after
from messaging.states import Direction, State


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    next: int


def event_dict(event: FeedEvent, cache: dict[int, list[Any]]) -> dict[str, Any]:
    message = event.message
    out: dict[str, Any] = {
        "seq": event.seq,
        "id": f"evt_{event.pk}",
        "type": event.kind,
        "created": event.created.isoformat(),
        "data": {**(event.payload or {}), "state": message.state},
    }
    if message.direction == Direction.INBOUND:
        out["data"]["message"] = dip_message(message, cache).item
    return out


def acknowledge(*, consumer: str, upto: int) -> None:
    with transaction.atomic():
        cursor, _ = FeedCursor.objects.select_for_update().get_or_create(consumer=consumer[:254])
        if upto <= cursor.position:
            return
        done = Message.objects.filter(
            direction=Direction.INBOUND,
            withheld=False,
            state__in=[State.VALIDATED, State.REJECTED],
            feed_events__seq__gt=cursor.position,
            feed_events__seq__lte=upto,
        ).distinct()
        for message in done[:5000]:
            mark_delivered(message, actor=f"feed:{consumer}")
        cursor.position = upto
        cursor.save(update_fields=["position", "updated"])


def read(*, consumer: str, after: int, limit: int = 100) -> Page:
    if after:
        acknowledge(consumer=consumer, upto=after)
    events = feed_after(after, limit=limit)
    cache: dict[int, list[Any]] = {}
    items = [event_dict(e, cache) for e in events if not e.message.withheld]
    return Page(items, events[-1].seq if events and events[-1].seq else after)


def position(consumer: str) -> int:
    row = FeedCursor.objects.filter(consumer=consumer).first()
    return row.position if row else 0
