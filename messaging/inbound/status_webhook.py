"""The status-message webhook (channel interface ``STATUS``): the DIP relays L2/L3/L4 outcomes
of messages our client *sent* (PROTOCOL.md §4.5, a ``StandardResponseArray``). After the
signature is verified, the exact bytes are kept (hash-addressed, as evidence) and the statuses
are applied to the outbound messages they name; only then is 201 answered."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django_tenants.utils import tenant_context

from dip.responses import (
    StandardResponse,
    StandardResponseBody,
    parse_status_messages,
)
from dip.timeutil import format_timestamp
from messaging.inbound.routes import Route
from messaging.outbound.services.status import apply_status_bodies
from messaging.services import store_raw

log = logging.getLogger(__name__)
STATUS_INTERFACE = "STATUS"


def _reply(status: int, route: Route, message: str, items: list[StandardResponseBody]) -> bytes:
    now = format_timestamp(timezone.now())
    bodies = [
        StandardResponseBody(
            transactionID=b.transactionID,
            senderUniqueReference=b.senderUniqueReference,
            correlationID=b.correlationID,
            sentTimestamp=b.sentTimestamp,
            senderID=route.dip_id,
            recipientID=b.senderID,
            DIPConnectionProviderID=None,
            message=message,
        )
        for b in items
    ] or [
        StandardResponseBody(
            transactionID=None,
            senderUniqueReference=None,
            correlationID=None,
            sentTimestamp=now,
            senderID=route.dip_id,
            recipientID=None,
            DIPConnectionProviderID=None,
            message=message,
        )
    ]
    return StandardResponse(messageArray=tuple(bodies), timestamp=now).to_bytes()


def receive_status(route: Route, body: bytes) -> HttpResponse:
    bodies, findings = parse_status_messages(body)
    if findings:
        text = f"RCP1001 - {findings[0].message}"[:200]
        return HttpResponse(
            _reply(400, route, text, []), status=400, content_type="application/json"
        )
    with tenant_context(route.tenant), transaction.atomic():
        store_raw(body)
        result = apply_status_bodies(bodies)
    log.info("status webhook for %s: %s", route.dip_id, result)
    return HttpResponse(
        _reply(201, route, "RCP0000 - Message Success", bodies),
        status=201,
        content_type="application/json",
    )
