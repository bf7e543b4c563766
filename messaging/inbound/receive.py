"""Capture one verified DIP callback: raw bytes, receipt, message index rows — one transaction.

The webhook (``messaging.inbound.webhook``) calls :func:`receive` inside the tenant schema after
the signature verified. Level 1 (syntax: UTF-8, JSON, array shape) runs here; levels 2-4 run
after the acknowledgement (``messaging.inbound.processing``). Each array element that passed
level 1 becomes a ``messaging.Message`` unless its ``D0.transactionID`` is already stored: then
it is acknowledged again (the DIP retried or replayed it), counted on the stored message
(``duplicate_count``) and on the receipt, and not stored twice. Nothing returns until the
transaction committed; processing is enqueued after commit (the sweeper covers a lost nudge).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from dip.codes import Side
from dip.envelope import Message as DipMessage
from dip.envelope import parse_batch
from dip.errors import Level
from dip.responses import HttpReply, webhook_reply
from dip.signing import VerifiedSignature
from dip.validation import ValidationContext, validate_batch
from messaging import services as store
from messaging.inbound.models import InboundReceipt
from messaging.inbound.routes import Route
from messaging.states import Direction

log = logging.getLogger(__name__)
EDGE = ValidationContext(side=Side.RCP, max_level=Level.SYNTAX)
KEPT_HEADERS = (
    "content-type",
    "content-length",
    "user-agent",
    "x-dip-signature-date",
    "x-dip-content-hash",
    "x-dip-signature",
    "x-dip-signature-certificate",
    "x-dip-mpo",
    "x-request-id",
)


@dataclass(frozen=True, slots=True)
class Received:
    reply: HttpReply
    receipt_id: int
    message_ids: list[int]
    duplicates: list[str]


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lower = {k.lower(): v for k, v in headers.items()}
    return {k: lower[k] for k in KEPT_HEADERS if k in lower}


def verification_details(signed: VerifiedSignature) -> dict[str, Any]:
    return {
        "ok": True,
        "subject": signed.subject,
        "fingerprint_sha256": signed.fingerprint_sha256,
        "signed_at": signed.signed_at.isoformat(),
    }


def _new_message(route: Route, m: DipMessage, raw: Any) -> store.NewMessage:
    d0 = m.common_dict.get("D0")
    publication = d0.get("publicationID") if isinstance(d0, dict) else None
    return store.NewMessage(
        direction=Direction.INBOUND,
        environment=route.environment,
        interface_id=(m.interface_id or route.interface_id)[:12],
        dip_id=route.dip_id,
        raw=raw,
        event_code=(m.event_code or "")[:60],
        schema_version=(m.schema_version or "")[:10],
        counterparty_dip_id=(m.sender_dip_id or "")[:20],
        dcp_id=(m.dcp_id or "")[:20],
        mpan_core=(m.mpan_core or "")[:13],
        sender_unique_reference=(m.sender_unique_reference or "")[:200],
        transaction_id=(m.transaction_id or "")[:65],
        correlation_id=(m.correlation_id or "")[:60],
        publication_id=(publication if isinstance(publication, str) else "")[:65],
        raw_index=m.index,
        common_block=m.common_dict,
    )


def _count_duplicates(environment: str, transaction_ids: list[str]) -> set[str]:
    """Count a re-delivery on the stored messages; returns the transaction ids already stored."""
    if not transaction_ids:
        return set()
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE messaging_message SET duplicate_count = duplicate_count + 1 "
            "WHERE direction = 'inbound' AND environment = %s AND transaction_id = ANY(%s) "
            "RETURNING transaction_id",
            [environment, transaction_ids],
        )
        return {row[0] for row in cur.fetchall()}


def receive(
    *,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    signed: VerifiedSignature,
    now: datetime | None = None,
) -> Received:
    batch = parse_batch(body, side=Side.RCP, max_bytes=settings.INBOUND_MAX_BYTES)
    report = validate_batch(batch, EDGE)
    reply = webhook_reply(report, recipient_dip_id=route.dip_id)
    ok = [r.message for r in report.results if r.ok]
    for attempt in (1, 2):
        try:
            return _store(
                route, body, headers, signed, report.findings, reply, ok, len(report.results), now
            )
        except IntegrityError:
            # A concurrent delivery of the same transaction committed first: count it as a
            # duplicate on the second pass.
            if attempt == 2:
                raise
            log.info("inbound: concurrent duplicate on %s, retrying", route.dip_id)
    raise AssertionError("unreachable")


def _store(
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    signed: VerifiedSignature,
    findings: list[Any],
    reply: HttpReply,
    ok: list[DipMessage],
    count: int,
    now: datetime | None,
) -> Received:
    with transaction.atomic():
        raw = store.store_raw(body)
        by_txn: dict[str, DipMessage] = {}
        fresh: list[DipMessage] = []
        repeats: list[str] = []
        for m in ok:
            txn = (m.transaction_id or "")[:65]
            if not txn:
                fresh.append(m)  # L4 rejects it (RCP1043); nothing to de-duplicate on
            elif txn in by_txn:
                repeats.append(txn)  # the same transaction twice in one callback
            else:
                by_txn[txn] = m
        stored = _count_duplicates(route.environment, list(by_txn))
        fresh.extend(m for txn, m in by_txn.items() if txn not in stored)
        duplicates = sorted(stored) + repeats
        created = store.create_messages(
            [_new_message(route, m, raw) for m in fresh], actor="dip", reason="DIP delivery"
        )
        receipt = InboundReceipt.objects.create(
            channel_id=route.channel_id,
            interface_id=route.interface_id,
            dip_id=route.dip_id,
            environment=route.environment,
            raw=raw,
            sha256=raw.sha256,
            size=len(body),
            headers=kept_headers(headers),
            outcome={201: "accepted", 207: "partial"}.get(reply.status, "rejected"),
            http_status=reply.status,
            verified=True,
            verification=verification_details(signed),
            message_count=count,
            accepted_count=len(ok),
            duplicate_count=len(duplicates),
            duplicate_transaction_ids=duplicates[:1000],
            findings=[_finding(f) for f in findings if f.is_error][:100],
            received_at=now or timezone.now(),
        )
        ids = [m.pk for m in created]
        if ids or duplicates:
            transaction.on_commit(lambda: _enqueue(ids, receipt.pk), robust=True)
    return Received(reply, receipt.pk, ids, duplicates)


def _finding(f: Any) -> dict[str, Any]:
    return {"code": f.code, "path": f.path, "message": f.message[:300], "index": f.index}


def _enqueue(message_ids: list[int], receipt_id: int) -> None:
    from messaging.inbound.tasks import process_messages

    process_messages.delay(message_ids, receipt_id)


def record_rejection(
    *,
    route: Route,
    body: bytes,
    headers: Mapping[str, str],
    reason: str,
    detail: str,
    status: int,
) -> InboundReceipt:
    """A callback that failed verification: headers and reason kept, the body is not (it is
    not proven to come from the DIP)."""
    return InboundReceipt.objects.create(
        channel_id=route.channel_id,
        interface_id=route.interface_id,
        dip_id=route.dip_id,
        environment=route.environment,
        raw=None,
        sha256=store.sha256_hex(body),
        size=len(body),
        headers=kept_headers(headers),
        outcome=InboundReceipt.Outcome.SIGNATURE,
        http_status=status,
        verified=False,
        verification={"ok": False, "reason": reason, "detail": detail[:500]},
        received_at=timezone.now(),
    )
