"""Message pages (tenant host): the list of both directions with filters, and one message's
envelope, raw bytes, timeline, attempts, certificate, findings and exceptions."""

from __future__ import annotations

from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_date

from messaging.models import Message
from messaging.outbound.models import Attempt, OutboxEntry
from messaging.selectors import timeline
from messaging.services import raw_bytes
from messaging.states import Direction, State
from tenants.permissions import Action
from tenants.views import requires

FILTERS = ("direction", "state", "interface_id", "dip_id", "mpan_core", "date_from", "date_to")


def message_list(filters: dict[str, str]) -> QuerySet[Message]:
    qs = Message.objects.all().order_by("-id")
    for key in ("direction", "state", "interface_id", "dip_id", "mpan_core"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    start = parse_date(filters.get("date_from") or "")
    end = parse_date(filters.get("date_to") or "")
    if start:
        qs = qs.filter(created__date__gte=start)
    if end:
        qs = qs.filter(created__date__lte=end)
    return qs


@requires(Action.VIEW_MESSAGES)
def messages_page(request: HttpRequest) -> HttpResponse:
    f = {k: request.GET.get(k, "").strip() for k in FILTERS}
    return render(
        request,
        "messaging/list.html",
        {
            "page": Paginator(message_list(f), 50).get_page(request.GET.get("page")),
            "filters": f,
            "directions": Direction.choices,
            "states": State.choices,
        },
    )


@requires(Action.VIEW_MESSAGES)
def message_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("raw"), public_id=public_id)
    try:
        raw = raw_bytes(message.raw).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        raw = f"(raw body unavailable: {exc})"
    entry = OutboxEntry.objects.filter(message=message).first()
    attempts = Attempt.objects.filter(message_ids__contains=[message.pk]).order_by("id")
    started: datetime | None = entry.first_attempt_at if entry else None
    return render(
        request,
        "messaging/detail.html",
        {
            "message": message,
            "raw": raw,
            "timeline": timeline(message),
            "outbox": entry,
            "first_attempt_at": started,
            "attempts": attempts,
            "exceptions": message.exceptions.all(),
            "status_reports": message.status_reports.all(),
        },
    )
