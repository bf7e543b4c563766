"""After the acknowledgement: levels 2-4 validation, exceptions and the L4 status owed.

:func:`process_messages` takes inbound messages still ``received``, validates each one from its
raw bytes (``dip.validation`` on the RCP side, the channel's interface, environment and our
client's DIP ID as context), moves it to ``validated`` or ``rejected``, opens categorised
exceptions (schema, business rule, unknown MPAN, out of order, duplicate) and records the
status owed (``messaging.inbound.status.queue_reply``: every issue; RCP0000 only where the
tenant's policy asks), which ``messaging.inbound.status`` sends to the DIP. Idempotent:
a message that is no longer ``received`` is skipped, so a re-run (sweeper, redelivered task)
does no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from dip.codes import CODES, Side
from dip.envelope import Message as DipMessage
from dip.envelope import parse_batch
from dip.errors import Finding, Level
from dip.responses import body_for
from dip.timeutil import parse_timestamp
from dip.validation import ValidationContext, validate_message
from messaging import services as store
from messaging.inbound import duplicates
from messaging.inbound import status as replies
from messaging.inbound.models import InboundReceipt
from messaging.models import ExceptionCategory, Message, RawBody
from messaging.states import Direction, State

log = logging.getLogger(__name__)
MPAN_CODES = frozenset({"RCP1061"})
ACTOR = "inbound-processor"


def category_for(finding: Finding) -> str:
    if finding.code in MPAN_CODES:
        return ExceptionCategory.UNKNOWN_MPAN
    if finding.level <= Level.SCHEMA:
        return ExceptionCategory.SCHEMA
    return ExceptionCategory.BUSINESS_RULE


def raw_items(raw: RawBody, cache: dict[int, list[Any]]) -> list[Any]:
    if raw.pk not in cache:
        batch = parse_batch(store.raw_bytes(raw), side=Side.RCP, max_bytes=1 << 40)
        cache[raw.pk] = [m.item for m in batch.messages]
    return cache[raw.pk]


def dip_message(message: Message, cache: dict[int, list[Any]] | None = None) -> DipMessage:
    """The array element this message came as, from the stored raw bytes."""
    if cache is not None and message.raw_id in cache:  # a batch loads each raw body once
        items = cache[message.raw_id]
    else:
        items = raw_items(message.raw, {} if cache is None else cache)
    index = message.raw_index or 0
    return DipMessage(items[index] if index < len(items) else None, index)


def _channel_interface(raw_id: int) -> str | None:
    receipt = InboundReceipt.objects.filter(raw_id=raw_id, verified=True).only("interface_id")
    first = receipt.first()
    return first.interface_id if first else None


def process_messages(message_ids: Iterable[int]) -> int:
    """Validate and settle each message still ``received``; returns how many moved. In batches
    (``messaging.inbound.batch``); a batch that fails is retried here one message at a time."""
    from messaging.inbound.batch import process_batch

    return process_batch(message_ids)


def process_one_by_one(message_ids: Iterable[int]) -> int:
    """The per-message path: each message in its own transaction, a failure logged and left
    ``received`` for the sweeper (the fallback for a batch that failed)."""
    messages = list(
        Message.objects.select_related("raw")
        .filter(pk__in=list(message_ids), direction=Direction.INBOUND, state=State.RECEIVED)
        .order_by("id")
    )
    cache: dict[int, list[Any]] = {}
    channels: dict[int, str | None] = {}
    policies = replies.Policies.load() if messages else None
    moved = 0
    for message in messages:
        if message.raw_id not in channels:
            channels[message.raw_id] = _channel_interface(message.raw_id)
        try:
            moved += settle_one(message, cache, channels[message.raw_id], policies)
        except Exception:
            log.exception("inbound: processing message %s failed; the sweeper retries", message.pk)
    return moved


def settle_one(
    message: Message,
    cache: dict[int, list[Any]],
    channel_interface: str | None,
    policies: replies.Policies | None = None,
) -> int:
    """Validate and settle one ``received`` message (duplicate checks under their locks)."""
    m = dip_message(message, cache)
    digest = duplicates.payload_digest(m.item)  # computed once, stored below
    ctx = ValidationContext(
        side=Side.RCP,
        spec_version=message.spec_version,
        environment=message.environment,
        channel_interface_id=channel_interface,
        recipient_dip_id=message.dip_id,
        now=message.created,
    )
    result = validate_message(m, ctx)
    error = result.first_error
    now = timezone.now()
    with transaction.atomic():
        # Duplicates (docs/inbound.md "Duplicates"), checked under locks held until commit.
        original = duplicates.reference_original(message, m)
        if original is not None:
            return _duplicate_reference(message, original, m, digest, policies, now)
        suspect = duplicates.content_original(message, m, digest)
        message.findings = [finding_dict(f) for f in result.findings][:100]
        Message.objects.filter(pk=message.pk).update(
            findings=message.findings, payload_digest=digest
        )
        to_state = State.REJECTED if error else State.VALIDATED
        reason = error.as_text() if error else "levels 2-4 passed"
        if not store.transition(message, to_state, actor=ACTOR, reason=reason):
            return 0
        if error is not None:
            store.open_exception(
                message,
                category=category_for(error),
                code=error.code,
                summary=f"{error.as_text()} at {error.path}: {error.message}",
                details={"findings": message.findings},
            )
        _check_order(message)
        if suspect is not None:
            duplicates.flag_content_duplicate(message, suspect, digest=digest)
        text = error.as_text() if error else CODES["RCP0000"].text()
        help_text = f"{error.path}: {error.message}" if error else None
        item = body_for(m, sender_id=message.dip_id, text=text, help=help_text)
        # Issues always get a status; RCP0000 only where the tenant's policy asks (status.py).
        replies.queue_reply(
            message, item, code=error.code if error else "RCP0000", policies=policies, now=now
        )
    return 1


def _duplicate_reference(
    message: Message,
    original: Message,
    m: DipMessage,
    digest: str,
    policies: replies.Policies | None,
    now: Any,
) -> int:
    """A sender reference seen before under another transactionID: not processed again,
    rejected with a duplicate exception linked to the original, RCP1006 to the sender."""
    if not duplicates.reject_reference_duplicate(message, original, m, actor=ACTOR, digest=digest):
        return 0
    code = duplicates.DUPLICATE_SUR
    help_text = (
        f"$[{m.index}].payload.CommonBlock.S1.senderUniqueReference: already received under "
        f"transactionID {original.transaction_id}"
    )
    item = body_for(m, sender_id=message.dip_id, text=CODES[code].text(), help=help_text)
    replies.queue_reply(message, item, code=code, policies=policies, now=now)
    return 1


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": str(f.severity),
        "level": int(f.level),
        "path": f.path,
        "message": f.message[:300],
    }


def sender_time(message: Message) -> str:
    s1 = message.common_block.get("S1") if isinstance(message.common_block, dict) else None
    value = s1.get("senderTimestamp") if isinstance(s1, dict) else None
    return value if isinstance(value, str) else ""


def _check_order(message: Message) -> None:
    """A message older (by sender time) than one already received for the same MPAN and
    interface arrived out of order: flag it for the client (it is still delivered)."""
    from messaging.inbound.batch import newer_elsewhere  # the same query as a batch's

    hit = newer_elsewhere([message]).get(message.pk)
    if hit is not None:
        mine, public_id, theirs = hit
        store.open_exception(
            message,
            category=ExceptionCategory.OUT_OF_ORDER,
            summary=f"sent {mine}, after message {public_id} sent {theirs} arrived",
            details={"newer_message": public_id},
        )


def parse_time(text: str) -> Any:
    try:
        return parse_timestamp(text)
    except (ValueError, TypeError):
        return None


def record_duplicates(receipt_id: int) -> int:
    """Open (or keep) a DUPLICATE exception on each stored message the DIP delivered again."""
    receipt = InboundReceipt.objects.filter(pk=receipt_id).first()
    if receipt is None or not receipt.duplicate_transaction_ids:
        return 0
    count = 0
    for message in Message.objects.filter(
        direction=Direction.INBOUND,
        environment=receipt.environment,
        transaction_id__in=receipt.duplicate_transaction_ids,
    ):
        # Our own code, not RCP1006: nothing is wrong with the message and no status is sent
        # (the same transaction again is the DIP retrying; docs/inbound.md "Duplicates").
        store.open_exception(
            message,
            category=ExceptionCategory.DUPLICATE,
            code="redelivered",
            summary=f"delivered again by the DIP ({message.duplicate_count} repeat(s) so far)",
            details={"kind": "transaction", "receipt_id": receipt.pk},
        )
        count += 1
    return count
