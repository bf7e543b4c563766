"""Reads over the message store."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.models import FeedEvent, Message, Transition
from messaging.services import publish_feed_events


def feed_after(after: int, *, limit: int = 100) -> list[FeedEvent]:
    """Feed events with ``seq > after`` in order (publishing any newly committed ones first)."""
    publish_feed_events()
    return list(
        FeedEvent.objects.filter(seq__gt=after).order_by("seq").select_related("message")[:limit]
    )


def timeline(message: Message) -> QuerySet[Transition]:
    return message.transitions.order_by("id")
