"""What a send's answer does to the messages (PROTOCOL.md §3.3), recorded in one transaction.

* 201: every message SENT → ACCEPTED, with its DIP transactionID; the L4 timer starts. An L4
  status that arrived before (stored while the message waited in the outbox) settles it now.
* 400 with a StandardResponse: per item. ``MSG1006`` (duplicate SUR) for a message we had
  already tried is "accepted already, the response was lost" → ACCEPTED. Items that only
  failed because another item did ("Batch rejected") go back to the outbox at once. Any other
  code → REJECTED with a REJECTED_BY_DIP exception.
* Other final statuses (401, 403, 404, 413 ...): REJECTED with an exception.
* Retryable (408, 429, 5xx, timeouts, connection errors): SENT → QUEUED with a due time from
  exponential back-off with full jitter (Retry-After as a floor); past the maximum total wait
  the messages FAIL with a TRANSPORT exception.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dip.client import Outcome, SendResult
from dip.signing import API_KEY
from messaging import services as core
from messaging.models import ExceptionCategory, Message
from messaging.outbound.conf import OutboundSettings
from messaging.outbound.models import Attempt, OutboxEntry
from messaging.outbound.services import status
from messaging.states import State

ACTOR = "outbound-sender"
_rng = random.Random()
_CATEGORY_BY_STATUS = {401: ExceptionCategory.CONFIGURATION, 403: ExceptionCategory.SIGNATURE}


def record(
    *,
    group: Any,
    entries: list[OutboxEntry],
    messages: list[Message],
    body: bytes,
    result: SendResult,
    sender: Any,
    started: datetime,
    finished: datetime,
    conf: OutboundSettings,
    worker: str,
) -> Attempt:
    by_id = {e.message_id: e for e in entries}
    with transaction.atomic():
        attempt = Attempt.objects.create(
            environment=group.environment,
            dip_id=group.dip_id,
            interface_id=group.interface_id,
            url=f"{sender.url}/dip-channel/{group.interface_id}",
            started_at=started,
            finished_at=finished,
            duration_ms=int((finished - started).total_seconds() * 1000),
            batch_size=len(messages),
            body_sha256=core.sha256_hex(body),
            body_size=len(body),
            status_code=result.status_code,
            outcome=str(result.outcome),
            error=(result.error or "")[:500],
            request_headers=_request_headers(body, sender),
            response_headers=dict(result.headers),
            response_body=result.content[:20000].decode("utf-8", "replace"),
            certificate_fingerprint=sender.certificate_fingerprint,
            certificate_id=sender.certificate_id,
            worker=worker[:100],
            message_ids=[m.pk for m in messages],
        )
        OutboxEntry.objects.filter(message_id__in=by_id).update(
            certificate_fingerprint=sender.certificate_fingerprint,
            certificate_id=sender.certificate_id,
        )
        sent = core.transition_many(
            messages,
            State.SENT,
            actor=ACTOR,
            reason=f"POST {group.interface_id} → {result.status_code or result.error}",
            details={"attempt": attempt.pk, "certificate": sender.certificate_fingerprint},
        )
        if result.outcome is Outcome.ACCEPTED:
            txns = _transaction_ids(result, messages)
            _accept(sent, txns, attempt, conf, reason=f"DIP {result.status_code}")
        elif result.outcome is Outcome.RETRYABLE:
            _retry(sent, by_id, result, conf)
        else:
            _rejected(sent, by_id, result, attempt, conf)
    return attempt


def _request_headers(body: bytes, sender: Any) -> dict[str, str]:
    from dip.signing import content_hash

    return {
        "Content-Type": "application/json",
        API_KEY: "***",
        "X-DIP-Content-Hash": content_hash(body),
        "X-DIP-Signature-Certificate-Fingerprint": sender.certificate_fingerprint,
    }


def _transaction_ids(result: SendResult, messages: list[Message]) -> dict[int, str]:
    items = result.response.items if result.response else ()
    by_sur = {i.sender_unique_reference: i.transaction_id for i in items}
    out: dict[int, str] = {}
    for index, m in enumerate(messages):
        txn = by_sur.get(m.sender_unique_reference)
        if txn is None and index < len(items):
            txn = items[index].transaction_id
        if txn:
            out[m.pk] = txn
    return out


def _accept(
    messages: list[Message],
    txns: dict[int, str],
    attempt: Attempt,
    conf: OutboundSettings,
    *,
    reason: str,
) -> None:
    if not messages:
        return
    now = timezone.now()
    for m in messages:
        if txns.get(m.pk):
            m.transaction_id = txns[m.pk]
    Message.objects.bulk_update([m for m in messages if m.pk in txns], ["transaction_id"])
    accepted = core.transition_many(
        messages,
        State.ACCEPTED,
        actor=ACTOR,
        reason=reason,
        details={"attempt": attempt.pk},
        per_message={pk: {"transaction_id": t} for pk, t in txns.items()},
    )
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        pending=False,
        lease_until=None,
        last_error="",
        accepted_at=now,
        status_due_at=now + timedelta(seconds=conf.status_window_for(messages[0].interface_id)),
        status_outcome="",
    )
    # L4 statuses that arrived while these waited to be resent settle (or reject) them now.
    status.apply_pending_reports(accepted)


def _retry(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    conf: OutboundSettings,
) -> None:
    if not messages:
        return
    now = timezone.now()
    first = min((by_id[m.pk].first_attempt_at or now) for m in messages)
    attempts = max(by_id[m.pk].attempts for m in messages)
    delay = conf.retry.next_delay(
        attempt=attempts,
        waited=(now - first).total_seconds(),
        rng=_rng,
        retry_after=result.retry_after,
    )
    error = f"{result.status_code or ''} {result.error or ''}".strip()[:500]
    if delay is None:
        core.transition_many(
            messages, State.FAILED, actor=ACTOR, reason=f"retries exhausted: {error}"
        )
        _finish(messages, error)
        for m in messages:
            core.open_exception(
                m,
                category=ExceptionCategory.TRANSPORT,
                code=str(result.status_code or "network"),
                summary=f"Gave up after {attempts} attempts: {error}",
            )
        return
    core.transition_many(
        messages, State.QUEUED, actor=ACTOR, reason=f"{error}; retry in {delay:.1f} s"
    )
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        lease_until=None, due_at=now + timedelta(seconds=delay), last_error=error
    )


def _rejected(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    attempt: Attempt,
    conf: OutboundSettings,
) -> None:
    items = result.response.items if result.response else ()
    by_sur = {i.sender_unique_reference: i for i in items}
    already: list[Message] = []
    again: list[Message] = []
    refused: list[tuple[Message, str, str]] = []
    for index, m in enumerate(messages):
        item = by_sur.get(m.sender_unique_reference) or (
            items[index] if index < len(items) else None
        )
        code = (item.code if item else None) or str(result.status_code)
        text = (item.message if item else None) or f"HTTP {result.status_code}"
        if code == "MSG1006" and by_id[m.pk].attempts > 1:
            already.append(m)
        elif result.status_code == 400 and item is not None and "batch rejected" in text.lower():
            again.append(m)
        else:
            refused.append((m, code, f"{text} {(item.help or '') if item else ''}".strip()))
    _accept(already, {}, attempt, conf, reason="MSG1006 after a lost response: accepted already")
    if again:
        core.transition_many(
            again, State.QUEUED, actor=ACTOR, reason="batch rejected because of another message"
        )
        OutboxEntry.objects.filter(message_id__in=[m.pk for m in again]).update(
            lease_until=None, due_at=timezone.now()
        )
    if refused:
        core.transition_many(
            [m for m, _, _ in refused],
            State.REJECTED,
            actor=ACTOR,
            reason="rejected by the DIP",
            per_message={m.pk: {"code": c, "message": t} for m, c, t in refused},
        )
        _finish([m for m, _, _ in refused], "rejected")
        category = _CATEGORY_BY_STATUS.get(
            result.status_code or 0, ExceptionCategory.REJECTED_BY_DIP
        )
        for m, code, text in refused:
            core.open_exception(m, category=category, code=code, summary=text)


def _finish(messages: list[Message], error: str) -> None:
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        pending=False, lease_until=None, last_error=error[:500]
    )


def not_configured(
    entries: list[OutboxEntry], messages: list[Message], reason: str, conf: OutboundSettings
) -> None:
    """No certificate or key: visible at once as an exception, retried with back-off (an
    operator may be fixing it), FAILED once the maximum wait is spent."""
    now = timezone.now()
    first = min((e.first_attempt_at or now) for e in entries)
    delay = conf.retry.next_delay(
        attempt=max(e.attempts for e in entries), waited=(now - first).total_seconds(), rng=_rng
    )
    with transaction.atomic():
        for m in messages:
            core.open_exception(
                m, category=ExceptionCategory.CONFIGURATION, code="not_configured", summary=reason
            )
        if delay is None:
            core.transition_many(messages, State.FAILED, actor=ACTOR, reason=reason)
            _finish(messages, reason)
            return
        OutboxEntry.objects.filter(message_id__in=[e.message_id for e in entries]).update(
            lease_until=None,
            due_at=now + timedelta(seconds=delay),
            last_error=reason[:500],
            attempts=F("attempts"),
        )
