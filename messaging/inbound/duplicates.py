"""Inbound duplicate detection, in the processing step (docs/inbound.md "Duplicates").

Three kinds, three answers:

* **Same ``D0.transactionID``** — the DIP delivering again (our answer was lost, or a requeue):
  the webhook capture's ``ON CONFLICT`` stores it once and answers 201 (idempotent); the
  re-delivery is counted on the stored message (``processing.record_duplicates``).
* **Same ``S1.senderUniqueReference`` from the same sender in the same environment under
  another transactionID** — the sender reused a reference that must be unique (PROTOCOL §2.8):
  the message is not processed again (no validation, kept from the client: ``withheld``), it
  is ``rejected`` with a ``DUPLICATE`` exception (code ``RCP1006``) linked to the original
  (``duplicate_of``) and an ``RCP1006`` negative status goes back to the sender.
* **Same content under new references** (same recipient DIP ID, environment, interface and
  MPAN, same ``payload_digest`` — seed 003 §2: Data Services sending IF-021 twice in error):
  processed as usual, flagged with a ``SUSPECTED_DUPLICATE`` exception linked to the first
  message with that content; delivered to the client (flagged) or held, per the tenant's
  :class:`~messaging.inbound.models.DuplicatePolicy`. No status is sent for it: its references
  are valid.

Messages the DIP marks as re-deliveries (``D0.replayIndicator`` true: a replay or requeue a
party asked for) are never treated as reference or content duplicates.

The digest is computed once per message, from the stored bytes, when it is processed (the
webhook capture, a benchmarked hot path, does no duplicate work beyond ``ON CONFLICT``). Both
checks run in the transaction that settles the message, under a transaction-scoped advisory
lock on the reference (or the digest), so two workers processing two copies at once settle one
as the original and the other as the duplicate — whichever order they commit in. The look-ups
are cheap: ``msg_sur`` (sender reference) and the partial ``msg_payload_digest`` index.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dcp import metrics
from dcp.db import current_schema
from dip.envelope import Message as DipMessage
from messaging import services as store
from messaging.inbound.models import DuplicatePolicy
from messaging.models import ExceptionCategory, Message
from messaging.states import Direction, State
from tenants.permissions import Action

DUPLICATE_SUR = "RCP1006"
LOOKUP_LIMIT = 200  # candidates read per check (a repeat has one or a few)
# Blocks that carry references, timestamps and routing, not content: a message sent again
# under new references differs only in these.
ENVELOPE_BLOCKS = frozenset({"S1", "S2", "A0", "D0"})


def payload_digest(item: Any) -> str:
    """SHA-256 (hex) of the message's content: its payload without the envelope blocks, as
    canonical JSON (keys sorted). ``""`` for an item without a payload object."""
    payload = item.get("payload") if isinstance(item, dict) else None
    if not isinstance(payload, dict):
        return ""
    content = {k: v for k, v in payload.items() if k != "CommonBlock"}
    common = payload.get("CommonBlock")
    if isinstance(common, dict):
        content["CommonBlock"] = {k: v for k, v in common.items() if k not in ENVELOPE_BLOCKS}
    else:
        content["CommonBlock"] = common
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_replay(m: DipMessage) -> bool:
    d0 = m.common_dict.get("D0")
    return isinstance(d0, dict) and d0.get("replayIndicator") is True


def _lock(*parts: str) -> None:
    """Serialise the check-and-settle of one reference or digest until the transaction ends."""
    key = "\x1f".join((current_schema(), *parts))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _inbound(message: Message) -> QuerySet[Message]:
    return Message.objects.filter(
        direction=Direction.INBOUND, environment=message.environment
    ).exclude(pk=message.pk)


def reference_original(message: Message, m: DipMessage) -> Message | None:
    """The message this one repeats the sender reference of, or None. Call inside the
    transaction that settles ``message`` (it takes the reference's lock).

    The original is the earliest other message with the same sender, environment and
    ``senderUniqueReference`` under another transactionID that is not itself a reference
    duplicate, among those received earlier (lower id) or already processed — so a copy
    committed out of id order is still caught by whichever of the two settles second."""
    sur, sender = message.sender_unique_reference, message.counterparty_dip_id
    if not sur or not sender or is_replay(m):
        return None
    if not connection.in_atomic_block:
        raise RuntimeError("reference_original() must run inside the settling transaction")
    _lock("sur", message.environment, sender, sur)
    rows = _rows(reference_candidates(message))
    return _earliest([r for r in rows if r.counterparty_dip_id == sender])


def reference_candidates(message: Message) -> QuerySet[Message]:
    """Same reference, other transaction (the sender is compared by the caller: the reference
    alone is as good as unique, and filtering by it keeps the plan on ``msg_sur``)."""
    sur = message.sender_unique_reference
    return (
        _inbound(message)
        .filter(sender_unique_reference=sur)
        .exclude(transaction_id=message.transaction_id)
        .filter(Q(pk__lt=message.pk) | ~Q(state=State.RECEIVED))
        .filter(Q(duplicate_of__isnull=True) | ~Q(duplicate_of__sender_unique_reference=sur))
    )


def _rows(candidates: QuerySet[Message]) -> list[Message]:
    """A handful of candidates, unordered. Not ``ORDER BY id LIMIT 1`` (nor the model's default
    ordering): that invites the planner to walk an id-ordered index and filter every row (the
    trap docs/inbound.md describes for the capture); the look-up goes by the selective index,
    the sort is ours."""
    return list(candidates.order_by()[:LOOKUP_LIMIT])


def _earliest(rows: list[Message]) -> Message | None:
    return min(rows, key=lambda r: r.pk) if rows else None


def reject_reference_duplicate(
    message: Message, original: Message, m: DipMessage, *, actor: str, digest: str
) -> bool:
    """Settle ``message`` as a repeated sender reference: rejected, withheld from the client,
    a DUPLICATE exception linked to ``original``. The caller queues the RCP1006 status.
    False when another worker settled it first."""
    sur = message.sender_unique_reference
    reason = (
        f"{DUPLICATE_SUR}: senderUniqueReference {sur} from {message.counterparty_dip_id} "
        f"already received under transactionID {original.transaction_id} "
        f"(message {original.public_id}); not processed again"
    )
    if not store.transition(
        message,
        State.REJECTED,
        actor=actor,
        reason=reason,
        details={"duplicate_of": str(original.public_id)},
    ):
        return False
    finding = {
        "code": DUPLICATE_SUR,
        "severity": "error",
        "level": 3,
        "path": f"$[{m.index}].payload.CommonBlock.S1.senderUniqueReference",
        "message": f"senderUniqueReference {sur!r} is duplicated"[:300],
    }
    message.findings = [finding]
    Message.objects.filter(pk=message.pk).update(
        findings=message.findings,
        payload_digest=digest,
        is_duplicate=True,
        duplicate_of=original,
        withheld=True,
    )
    store.open_exception(
        message,
        category=ExceptionCategory.DUPLICATE,
        code=DUPLICATE_SUR,
        summary=(
            f"senderUniqueReference {sur} reused under a new transactionID "
            f"{message.transaction_id} (first: {original.transaction_id}, message "
            f"{original.public_id}); not processed, not delivered, RCP1006 sent to the sender"
        ),
        details={
            "kind": "reference",
            "original": str(original.public_id),
            "original_id": original.pk,
            "original_transaction_id": original.transaction_id,
            "transaction_id": message.transaction_id,
        },
    )
    _count_on_commit(message, "reference")
    return True


def _count_on_commit(message: Message, kind: str) -> None:
    interface = message.interface_id
    transaction.on_commit(
        lambda: metrics.count_inbound_duplicate(interface=interface, kind=kind), robust=True
    )


def content_original(message: Message, m: DipMessage, digest: str) -> Message | None:
    """The first message with the same content (recipient DIP ID, environment, interface,
    MPAN, digest) under another sender reference, or None. Call inside the settling transaction (it
    takes the digest's lock); the caller stores ``digest`` on ``message`` in it."""
    if not digest or not message.mpan_core or is_replay(m):
        return None
    _lock("digest", message.environment, message.dip_id, digest)
    same = (message.dip_id, message.interface_id, message.mpan_core)
    rows = _rows(content_candidates(message, digest))
    return _earliest([r for r in rows if (r.dip_id, r.interface_id, r.mpan_core) == same])


def content_candidates(message: Message, digest: str) -> QuerySet[Message]:
    """Same digest under another reference (recipient, interface and MPAN are compared by the
    caller — the digest already covers the interface and MPAN blocks — so the plan stays on the
    partial ``msg_payload_digest`` index)."""
    return (
        _inbound(message)
        .filter(payload_digest=digest)
        .exclude(payload_digest="")  # the partial index's predicate, spelled out for the planner
        # Copies under this same reference are the reference rule's business, not this one's.
        .exclude(sender_unique_reference=message.sender_unique_reference)
    )


def flag_content_duplicate(message: Message, original: Message, *, digest: str) -> bool:
    """Flag ``message`` as a suspected duplicate of ``original``; withhold it from the client
    when the tenant's policy holds them. Returns whether it was withheld."""
    root = (original.duplicate_of if original.duplicate_of_id else None) or original
    hold = holds_content_duplicates()
    Message.objects.filter(pk=message.pk).update(
        is_duplicate=True, duplicate_of=root, withheld=hold
    )
    message.is_duplicate, message.duplicate_of, message.withheld = True, root, hold
    fate = "held (tenant setting)" if hold else "delivered to the client, flagged"
    store.open_exception(
        message,
        category=ExceptionCategory.SUSPECTED_DUPLICATE,
        summary=(
            f"same {message.interface_id} content for MPAN {message.mpan_core} as message "
            f"{root.public_id} (senderUniqueReference {root.sender_unique_reference}) under new "
            f"references; {fate}"
        ),
        details={
            "kind": "content",
            "original": str(root.public_id),
            "original_id": root.pk,
            "original_sender_unique_reference": root.sender_unique_reference,
            "payload_digest": digest,
            "held": hold,
        },
    )
    _count_on_commit(message, "content")
    return hold


# --- the tenant's policy -----------------------------------------------------------------------


def holds_content_duplicates() -> bool:
    """True when the tenant holds suspected duplicates back (default: deliver, flagged)."""
    row = DuplicatePolicy.objects.only("deliver_content_duplicates").first()
    return row is not None and not row.deliver_content_duplicates


def policy_overview() -> dict[str, Any]:
    row = DuplicatePolicy.objects.first()
    return {
        "deliver_content_duplicates": row.deliver_content_duplicates if row else True,
        "updated": row.updated if row else None,
        "updated_by": row.updated_by if row else "",
    }


def set_duplicate_policy(*, deliver_content_duplicates: bool, actor: Any) -> DuplicatePolicy:
    """Deliver suspected (content) duplicates to the client, flagged, or hold them. Applies to
    messages processed from now on. Needs ``configuration.manage``; audited."""
    from participants.services.common import audit, email_of, require_here

    require_here(actor, Action.MANAGE_CONFIGURATION)
    if not isinstance(deliver_content_duplicates, bool):
        raise TypeError("deliver_content_duplicates must be a bool")
    with transaction.atomic():
        row = DuplicatePolicy.objects.select_for_update().first()
        before = row.deliver_content_duplicates if row else True
        if row is None:
            row = DuplicatePolicy(updated=timezone.now())
        row.deliver_content_duplicates = deliver_content_duplicates
        row.updated, row.updated_by = timezone.now(), email_of(actor)
        row.save()
        audit(
            action="duplicate_policy.set",
            actor=actor,
            target=row,
            target_repr="suspected duplicates: "
            + ("deliver" if row.deliver_content_duplicates else "hold"),
            changes={"deliver_content_duplicates": [before, deliver_content_duplicates]},
        )
    return row
