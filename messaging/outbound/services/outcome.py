"""What a send's answer does to the messages, recorded in one transaction. Decided by HTTP
status and response codes only (``verdicts``; the table is in docs/outbound.md "Outcomes").

* 201: every message SENT → ACCEPTED, with its DIP transactionID; the status window starts. A
  status that arrived before (stored while the message waited in the outbox) applies now.
* 400: per item (``verdicts.classify``): item-specific code → REJECTED with a REJECTED_BY_DIP
  exception; ``MSG1006`` → ACCEPTED if the DIP may hold the message from an attempt whose
  answer was lost, else REJECTED with a DUPLICATE exception; generic items → back to the
  outbox at once, without the failing items; all-generic → isolated (sent alone), alone →
  back-off, REJECTED past ``GENERIC_REJECT_LIMIT``; unknown code → held for an operator.
* 413: the batch is split (each message alone); a message alone → REJECTED.
* Other refusals (401, 403, 404 …): our configuration, not the message — an exception, and
  the message stays queued with back-off.
* Retryable (408, 5xx, timeouts, connection errors): SENT → QUEUED with exponential back-off
  (full jitter, Retry-After as a floor), *same composition and bytes* next time
  (``batch_key``), the messages marked ``maybe_at_dip`` unless the answer says the batch was
  not processed (503); the failure counts towards a DIP outage (``availability``). 429:
  back-off and the environment paused for its Retry-After.
* A message fails (TRANSPORT exception) only ``GIVE_UP_AFTER`` (7 days) after it was queued.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
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
from messaging.outbound.services import availability, status
from messaging.outbound.services.verdicts import ItemVerdict, Sent, Verdict, classify
from messaging.states import State

ACTOR = "outbound-sender"
HELD_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)  # a held entry is never due by itself
_rng = random.Random()
_CATEGORY_BY_STATUS = {401: ExceptionCategory.CONFIGURATION, 403: ExceptionCategory.SIGNATURE}
_OUTAGE_STATUSES = frozenset({408, 500, 502, 503, 504})
# Refusals that say the batch was not processed: a later MSG1006 is not "ours, accepted".
# No answer at all, 408, 500, 502 and 504 may come after processing: the DIP may hold it.
_NOT_PROCESSED = frozenset({429, 503})


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
    resend: bool = False,
) -> Attempt:
    """``resend``: the entries are exactly a batch sent before whose answer never came."""
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
        env = group.environment
        error = f"{result.status_code or ''} {result.error or ''}".strip()[:500]
        if result.outcome is Outcome.RETRYABLE and result.status_code == 429:
            availability.note_answer(environment=env)
            wait = result.retry_after if result.retry_after is not None else conf.retry.base_delay
            availability.pause(environment=env, seconds=wait)
            _retry(sent, by_id, result, conf, batch_key=attempt.body_sha256, lost=False)
        elif result.outcome is Outcome.RETRYABLE:
            if result.status_code is None or result.status_code in _OUTAGE_STATUSES:
                availability.note_failure(environment=env, error=error, conf=conf)
            lost = result.status_code not in _NOT_PROCESSED
            _retry(sent, by_id, result, conf, batch_key=attempt.body_sha256, lost=lost)
        else:
            availability.note_answer(environment=env)
            if result.outcome is Outcome.ACCEPTED:
                txns = _transaction_ids(result, messages)
                _accept(sent, txns, attempt, conf, reason=f"DIP {result.status_code}")
            elif result.status_code == 400:
                _refused(sent, by_id, result, attempt, conf, resend=resend)
            elif result.status_code == 413:
                _too_large(sent, by_id, result, attempt, conf)
            else:
                _not_ours(sent, by_id, result, conf)
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


def _delay(
    entries: list[OutboxEntry], result: SendResult | None, conf: OutboundSettings
) -> float | None:
    """Back-off before the next try, or None once ``GIVE_UP_AFTER`` has passed since the
    oldest of them was queued (attempts are not counted: an outage must not use them up)."""
    now = timezone.now()
    if (now - min(e.queued_at for e in entries)).total_seconds() > conf.give_up_after:
        return None
    delay = conf.retry.backoff(max(1, max(e.attempts for e in entries)), _rng)
    if result is not None and result.retry_after is not None:
        delay = max(delay, min(result.retry_after, conf.give_up_after))
    return delay


def _give_up(messages: list[Message], error: str, conf: OutboundSettings) -> None:
    core.transition_many(messages, State.FAILED, actor=ACTOR, reason=f"gave up: {error}")
    _finish(messages, error)
    days = conf.give_up_after / 86400
    for m in messages:
        core.open_exception(
            m,
            category=ExceptionCategory.TRANSPORT,
            code="give_up",
            summary=f"Not accepted by the DIP within {days:g} days of queueing; last: {error}",
        )


def _retry(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    conf: OutboundSettings,
    *,
    batch_key: str,
    lost: bool,
) -> None:
    """Back to the outbox with back-off, to be resent with the same composition and bytes.
    ``lost``: the answer never came (or was a 5xx): the DIP may hold these messages."""
    if not messages:
        return
    error = f"{result.status_code or ''} {result.error or ''}".strip()[:500]
    delay = _delay([by_id[m.pk] for m in messages], result, conf)
    if delay is None:
        _give_up(messages, error, conf)
        return
    core.transition_many(
        messages, State.QUEUED, actor=ACTOR, reason=f"{error}; retry in {delay:.1f} s"
    )
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        lease_until=None,
        due_at=timezone.now() + timedelta(seconds=delay),
        last_error=error,
        batch_key=batch_key,
        **({"maybe_at_dip": True} if lost else {}),
    )


def _requeue(messages: list[Message], reason: str, *, delay: float = 0.0, **fields: Any) -> None:
    if not messages:
        return
    core.transition_many(messages, State.QUEUED, actor=ACTOR, reason=reason)
    fields.setdefault("batch_key", "")
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        lease_until=None,
        due_at=timezone.now() + timedelta(seconds=delay),
        last_error=reason[:500],
        **fields,
    )


def _reject(
    rows: list[tuple[Message, ItemVerdict]], category: str, reason: str, summary: str = ""
) -> None:
    if not rows:
        return
    core.transition_many(
        [m for m, _ in rows],
        State.REJECTED,
        actor=ACTOR,
        reason=reason,
        per_message={m.pk: {"code": v.code, "message": v.text} for m, v in rows},
    )
    _finish([m for m, _ in rows], reason)
    for m, v in rows:
        core.open_exception(
            m, category=category, code=v.code[:20], summary=summary or v.text or v.code
        )


def _refused(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    attempt: Attempt,
    conf: OutboundSettings,
    *,
    resend: bool,
) -> None:
    """A 400: the whole batch refused, each item with its code (L1 is all-or-nothing)."""
    items = result.response.items if result.response else ()
    sent = [Sent(m.sender_unique_reference, by_id[m.pk].maybe_at_dip) for m in messages]
    rows = list(zip(messages, classify(sent, items, status=400, resend=resend), strict=True))
    of = {v: [(m, i) for m, i in rows if i.verdict is v] for v in Verdict}
    _accept(
        [m for m, _ in of[Verdict.ACCEPTED]],
        {},
        attempt,
        conf,
        reason="MSG1006 for a message whose earlier answer was lost: accepted already",
    )
    _reject(of[Verdict.REJECTED], ExceptionCategory.REJECTED_BY_DIP, "rejected by the DIP")
    for m, v in of[Verdict.DUPLICATE]:
        _reject(
            [(m, v)],
            ExceptionCategory.DUPLICATE,
            "duplicate senderUniqueReference",
            f"MSG1006: the DIP already holds senderUniqueReference {m.sender_unique_reference}"
            " and we never sent this message before: a genuine duplicate reference (reused by"
            " the client, or sent to the DIP another way). Not sent again.",
        )
    _requeue(
        [m for m, _ in of[Verdict.REQUEUE]],
        "batch refused because of another message: sent again without it",
    )
    _isolate([m for m, _ in of[Verdict.ISOLATE]])
    retry = [m for m, _ in of[Verdict.RETRY]]
    over = [
        (m, v)
        for m, v in of[Verdict.RETRY]
        if by_id[m.pk].generic_rejections + 1 >= conf.generic_reject_limit
    ]
    _reject(over, ExceptionCategory.REJECTED_BY_DIP, "refused on its own, repeatedly")
    again = [m for m in retry if m.pk not in {o.pk for o, _ in over}]
    if again:
        delay = _delay([by_id[m.pk] for m in again], result, conf) or 0.0
        _requeue(
            again,
            "refused on its own with a generic code: retried with back-off",
            delay=delay,
            solo=True,
            generic_rejections=F("generic_rejections") + 1,
        )
    _hold(of[Verdict.HOLD])


def _isolate(messages: list[Message]) -> None:
    """A batch refused with generic codes only names no culprit: split it in halves, each sent
    as a batch of its own next (a half of one is ``solo``), so a message the DIP cannot take is
    cornered in a few POSTs instead of taking its batch down again."""
    half = (len(messages) + 1) // 2
    for part in (messages[:half], messages[half:]):
        if not part:
            continue
        _requeue(
            part,
            f"batch refused with generic codes only: sent again in a batch of {len(part)}",
            solo=len(part) == 1,
            batch_key="" if len(part) == 1 else uuid.uuid4().hex,
            generic_rejections=F("generic_rejections") + 1,
        )


def _hold(rows: list[tuple[Message, ItemVerdict]]) -> None:
    """A code we do not know: neither resent nor rejected; an operator decides."""
    if not rows:
        return
    core.transition_many(
        [m for m, _ in rows], State.QUEUED, actor=ACTOR, reason="held: unknown code from the DIP"
    )
    OutboxEntry.objects.filter(message_id__in=[m.pk for m, _ in rows]).update(
        lease_until=None, due_at=HELD_UNTIL, held_at=timezone.now(), batch_key=""
    )
    for m, v in rows:
        core.open_exception(
            m,
            category=ExceptionCategory.REJECTED_BY_DIP,
            code=v.code[:20],
            summary=(
                f"Unknown code {v.code} in the DIP's answer ({v.text[:200]}): the message is "
                "held, neither resent nor rejected, until an operator releases or rejects it"
            ),
        )


def _too_large(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    attempt: Attempt,
    conf: OutboundSettings,
) -> None:
    if len(messages) > 1:
        _requeue(messages, "413 payload too large: each message sent on its own", solo=True)
        return
    verdict = ItemVerdict(Verdict.REJECTED, "HTTP 413", "payload too large for the DIP")
    _reject([(m, verdict) for m in messages], ExceptionCategory.REJECTED_BY_DIP, "too large")


def _not_ours(
    messages: list[Message],
    by_id: dict[int, OutboxEntry],
    result: SendResult,
    conf: OutboundSettings,
) -> None:
    """401, 403, 404, 405 …: the DIP refused *us* (key, certificate, URL), not the message.
    Visible at once as an exception; the message stays queued with back-off."""
    code = f"HTTP {result.status_code}"
    text = " ".join(i.message or "" for i in (result.response.items if result.response else ()))
    category = _CATEGORY_BY_STATUS.get(result.status_code or 0, ExceptionCategory.CONFIGURATION)
    delay = _delay([by_id[m.pk] for m in messages], result, conf)
    if delay is None:
        _give_up(messages, f"{code} {text}".strip(), conf)
        return
    for m in messages:
        core.open_exception(
            m,
            category=category,
            code=code,
            summary=f"The DIP refused our request ({code} {text[:200]}): check the DIP ID's API "
            "key, signing certificate and the DIP base URL; the message stays queued",
        )
    _requeue(messages, f"{code}: retry in {delay:.1f} s", delay=delay)


def _finish(messages: list[Message], error: str) -> None:
    OutboxEntry.objects.filter(message_id__in=[m.pk for m in messages]).update(
        pending=False, lease_until=None, last_error=error[:500]
    )


def not_configured(
    entries: list[OutboxEntry], messages: list[Message], reason: str, conf: OutboundSettings
) -> None:
    """No certificate or key: visible at once as an exception, retried with back-off (an
    operator may be fixing it), FAILED once ``GIVE_UP_AFTER`` has passed."""
    delay = _delay(entries, None, conf)
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
            due_at=timezone.now() + timedelta(seconds=delay),
            last_error=reason[:500],
            batch_key="",  # never sent: not a batch whose answer was lost
        )
