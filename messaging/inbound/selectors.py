"""Reads for the inbound pages and panel."""

from __future__ import annotations

from dataclasses import dataclass

from messaging.inbound.models import EndpointDelivery, InboundReceipt, StatusReply
from messaging.models import Message


@dataclass(frozen=True)
class ReceiptPanel:
    receipt: InboundReceipt | None
    status: StatusReply | None
    deliveries: list[EndpointDelivery]


def receipt_panel(message: Message) -> ReceiptPanel:
    receipt = (
        InboundReceipt.objects.filter(raw_id=message.raw_id, verified=True).order_by("id").first()
    )
    status = StatusReply.objects.filter(message=message).first()
    deliveries = list(
        EndpointDelivery.objects.filter(event__message=message)
        .select_related("endpoint")
        .prefetch_related("tries")
        .order_by("endpoint__name", "seq")
    )
    return ReceiptPanel(receipt, status, deliveries)
