"""Inbound processing in batches (docs/inbound.md "Processing").

The same decisions as :func:`messaging.inbound.processing.settle_one`, for up to ``CHUNK``
messages per transaction and a fixed number of statements per chunk instead of a dozen per
message:

1. claim: ``SELECT … FOR UPDATE SKIP LOCKED`` of the chunk's messages still ``received``, in
   id order (a message another worker holds is its business; one it settled is skipped);
2. validate L2-L4 and digest each one in Python (the raw body of a callback parsed once);
3. take the duplicate checks' advisory locks for the whole chunk in one statement (sorted, so
   two batches cannot deadlock), then one look-up by sender reference and one by digest: a
   message that *might* repeat another (a candidate in the database, or a copy in the same
   chunk) is settled by ``settle_one`` — the per-message rules, unchanged — after the messages
   before it were written, so it sees them exactly as sequential processing would;
4. the out-of-order check for every message in one LATERAL query;
5. the writes: one UPDATE of the states/findings/digests guarded by the claimed state, one
   INSERT of the transitions, one of the exceptions, one of the status replies.

All in the claim's transaction: a crash leaves the chunk ``received`` for the sweeper, and a
second run skips what the first settled (idempotent). A chunk that raises is retried one
message at a time (``process_one_by_one``), so one bad message cannot hold up the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from dcp.db import current_schema
from dip.codes import CODES, Side
from dip.envelope import Message as DipMessage
from dip.responses import body_for
from dip.validation import MessageResult, ValidationContext, validate_message
from messaging import services as store
from messaging.inbound import duplicates, processing
from messaging.inbound import status as replies
from messaging.inbound.models import InboundReceipt
from messaging.models import ExceptionCategory, Message, RawBody
from messaging.states import Direction, State

log = logging.getLogger(__name__)
CHUNK = 250  # messages per transaction: row locks held for a fraction of a second


@dataclass
class Prepared:
    message: Message
    item: DipMessage
    result: MessageResult
    digest: str


def process_batch(message_ids: Iterable[int]) -> int:
    """Settle every message of ``message_ids`` still ``received``; returns how many moved."""
    ids = sorted(set(message_ids))
    moved = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        try:
            moved += _chunk(chunk)
        except Exception:
            log.exception("inbound: batch of %d failed; settling one by one", len(chunk))
            moved += processing.process_one_by_one(chunk)
    return moved


def _chunk(ids: list[int]) -> int:
    with transaction.atomic():
        messages = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, direction=Direction.INBOUND, state=State.RECEIVED)
            .order_by("id")
        )
        if not messages:
            return 0
        now = timezone.now()
        policies = replies.Policies.load()
        channels = _channels({m.raw_id for m in messages})
        cache = _raw_items({m.raw_id for m in messages})
        prepared = [_prepare(m, cache, channels[m.raw_id]) for m in messages]
        _lock_all(prepared)
        suspects = _maybe_duplicates(prepared)
        newer = newer_elsewhere(messages)
        moved, todo = 0, list[Prepared]()
        for p in prepared:
            if p.message.pk in suspects:
                moved += _settle(todo, newer, policies, now)
                todo = []
                channel = channels[p.message.raw_id]
                moved += processing.settle_one(p.message, cache, channel, policies)
            else:
                todo.append(p)
        moved += _settle(todo, newer, policies, now)
    return moved


def _raw_items(raw_ids: set[int]) -> dict[int, list[Any]]:
    """Each callback's array elements, its raw body read and parsed once for the chunk (not
    once per message, as a join from every message row would read it)."""
    cache: dict[int, list[Any]] = {}
    for raw in RawBody.objects.filter(pk__in=raw_ids):
        processing.raw_items(raw, cache)
    return cache


def _channels(raw_ids: set[int]) -> dict[int, str | None]:
    """The interface of the verified channel each raw body came in on (the latest receipt)."""
    out: dict[int, str | None] = dict.fromkeys(raw_ids)
    seen: set[int] = set()
    rows = (
        InboundReceipt.objects.filter(raw_id__in=raw_ids, verified=True)
        .order_by("raw_id", "-id")
        .values_list("raw_id", "interface_id")
    )
    for raw_id, interface_id in rows:
        if raw_id not in seen:
            seen.add(raw_id)
            out[raw_id] = interface_id
    return out


def _prepare(message: Message, cache: dict[int, list[Any]], channel: str | None) -> Prepared:
    m = processing.dip_message(message, cache)
    ctx = ValidationContext(
        side=Side.RCP,
        spec_version=message.spec_version,
        environment=message.environment,
        channel_interface_id=channel,
        recipient_dip_id=message.dip_id,
        now=message.created,
    )
    return Prepared(message, m, validate_message(m, ctx), duplicates.payload_digest(m.item))


def _lock_all(prepared: list[Prepared]) -> None:
    """The advisory locks ``duplicates.reference_original``/``content_original`` take, for the
    whole chunk at once, in hash order (transaction-scoped; re-taking one is free)."""
    schema = current_schema()
    keys: set[str] = set()
    for p in prepared:
        m = p.message
        if m.sender_unique_reference and m.counterparty_dip_id:
            parts = ("sur", m.environment, m.counterparty_dip_id, m.sender_unique_reference)
            keys.add("\x1f".join((schema, *parts)))
        if p.digest and m.mpan_core:
            keys.add("\x1f".join((schema, "digest", m.environment, m.dip_id, p.digest)))
    if not keys:
        return
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT hashtextextended(k, 0) AS h "
            "FROM unnest(%s::text[]) AS k ORDER BY 1) AS sorted",
            [sorted(keys)],
        )


def _maybe_duplicates(prepared: list[Prepared]) -> set[int]:
    """Messages that might repeat another by sender reference or by content (a superset of
    what the exact per-message rules find): they take the per-message path."""
    mine = {p.message.pk for p in prepared}
    out: set[int] = set()
    surs = {p.message.sender_unique_reference for p in prepared} - {""}
    same_ref: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    if surs:
        rows = (
            Message.objects.filter(direction=Direction.INBOUND, sender_unique_reference__in=surs)
            .order_by()
            .values_list(
                "id",
                "environment",
                "counterparty_dip_id",
                "sender_unique_reference",
                "transaction_id",
            )
        )
        for pk, env, sender, sur, txid in rows:
            same_ref.setdefault((env, sender, sur), []).append((pk, txid))
    for p in prepared:
        m = p.message
        key = (m.environment, m.counterparty_dip_id, m.sender_unique_reference)
        if m.sender_unique_reference and any(
            pk != m.pk and txid != m.transaction_id for pk, txid in same_ref.get(key, ())
        ):
            out.add(m.pk)
    digests = {p.digest for p in prepared} - {""}
    if digests:
        stored = set(
            Message.objects.filter(direction=Direction.INBOUND, payload_digest__in=digests)
            .exclude(payload_digest="")
            .exclude(pk__in=mine)
            .order_by()
            .values_list("payload_digest", flat=True)
        )
        twice = {d for d, n in Counter(p.digest for p in prepared).items() if n > 1}
        out.update(p.message.pk for p in prepared if p.digest in stored or p.digest in twice)
    return out


# Walks ``msg_mpan`` (mpan_core, id) backwards from each message: the ORDER BY is that index's,
# and the interface test is kept out of the index conditions — on a freshly loaded table the
# planner otherwise took (interface_id, id) and filtered every earlier message of the interface
# (0.9 ms per message at 5k, growing with the table; see bench.inbound_process --explain).
NEWER_SQL = """
SELECT b.id, x.public_id, x.ts
FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS b(id, mpan, iface)
CROSS JOIN LATERAL (
    SELECT m.id, m.public_id,
           CASE WHEN jsonb_typeof(m.common_block->'S1'->'senderTimestamp') = 'string'
                THEN m.common_block->'S1'->>'senderTimestamp' END AS ts
    FROM messaging_message m
    WHERE m.mpan_core = b.mpan AND m.id < b.id
      AND (m.direction = 'inbound' AND m.interface_id = b.iface) IS TRUE
    ORDER BY m.mpan_core DESC, m.id DESC LIMIT 20
) AS x
ORDER BY b.id, x.id DESC
"""


def newer_elsewhere(messages: list[Message]) -> dict[int, tuple[str, str, str]]:
    """``processing._check_order`` for the chunk: message pk → (its sender time, the newer
    message's public id, that one's sender time), for those that arrived out of order."""
    mine = {m.pk: processing.sender_time(m) for m in messages}
    asked = [m for m in messages if m.mpan_core and mine[m.pk]]
    if not asked:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            NEWER_SQL,
            [[m.pk for m in asked], [m.mpan_core for m in asked], [m.interface_id for m in asked]],
        )
        rows = cur.fetchall()
    parsed: dict[str, Any] = {}

    def at(text: str) -> Any:
        if text not in parsed:
            parsed[text] = processing.parse_time(text)
        return parsed[text]

    out: dict[int, tuple[str, str, str]] = {}
    for pk, public_id, theirs in rows:
        if pk in out or not theirs:
            continue
        mine_at, theirs_at = at(mine[pk]), at(theirs)
        if mine_at is not None and theirs_at is not None and theirs_at > mine_at:
            out[pk] = (mine[pk], str(public_id), theirs)
    return out


def _settle(
    todo: list[Prepared],
    newer: dict[int, tuple[str, str, str]],
    policies: replies.Policies,
    now: Any,
) -> int:
    """Write the outcome of messages that repeat nothing: states, exceptions, status replies."""
    if not todo:
        return 0
    rows: list[tuple[Message, str, str, dict[str, Any]]] = []
    for p in todo:
        error = p.result.first_error
        findings = [processing.finding_dict(f) for f in p.result.findings][:100]
        p.message.findings = findings
        rows.append(
            (
                p.message,
                State.REJECTED if error else State.VALIDATED,
                error.as_text() if error else "levels 2-4 passed",
                {"findings": findings, "payload_digest": p.digest},
            )
        )
    moved = {m.pk for m in store.settle_many(rows, actor=processing.ACTOR, at=now)}
    problems: list[tuple[Message, dict[str, Any]]] = []
    owed: list[tuple[Message, Any, str]] = []
    for p in todo:
        message = p.message
        if message.pk not in moved:
            continue
        error = p.result.first_error
        if error is not None:
            summary = f"{error.as_text()} at {error.path}: {error.message}"
            problems.append(
                (
                    message,
                    {
                        "category": processing.category_for(error),
                        "code": error.code,
                        "summary": summary,
                        "details": {"findings": message.findings},
                    },
                )
            )
        if message.pk in newer:
            sent, public_id, theirs = newer[message.pk]
            problems.append(
                (
                    message,
                    {
                        "category": ExceptionCategory.OUT_OF_ORDER,
                        "summary": f"sent {sent}, after message {public_id} sent {theirs} arrived",
                        "details": {"newer_message": public_id},
                    },
                )
            )
        text = error.as_text() if error else CODES["RCP0000"].text()
        help_text = f"{error.path}: {error.message}" if error else None
        item = body_for(p.item, sender_id=message.dip_id, text=text, help=help_text)
        owed.append((message, item, error.code if error else replies.SUCCESS))
    store.open_exceptions(problems, at=now)
    replies.queue_replies(owed, policies=policies, now=now)
    return len(moved)
