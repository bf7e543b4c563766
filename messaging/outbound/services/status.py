"""Status messages about our messages (PROTOCOL.md §4.5, §5): DIP L2 failures and recipients'
L3/L4 outcomes, correlated by transactionID, else senderUniqueReference.

The inbound status-message webhook calls ``apply_status_messages(raw)`` with the callback body
(a StandardResponseArray) after verifying it. Success (``MSG0000``/``RCP0000``) settles an
accepted message; any other code rejects it (REJECTED_BY_DIP for MSG codes, else
REJECTED_BY_RECIPIENT) with an exception. Every status is kept as a StatusReport, also when the
message is already final (a second recipient's answer). A late status resolves a TIMEOUT. A
status that arrives while its message is back in the outbox (the DIP took it but our answer was
lost) is kept and applied when the sender gets the message accepted
(``apply_pending_reports``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dip.responses import StandardResponseBody, parse_status_messages
from messaging import services as core
from messaging.models import ExceptionCategory, Message, MessageException
from messaging.outbound.models import OutboxEntry, StatusReport
from messaging.states import Direction, State

ACTOR = "dip-status"
SETTLE_FROM = frozenset({State.SENT, State.ACCEPTED, State.EXPIRED})
REJECT_FROM = frozenset({State.SENT, State.ACCEPTED, State.EXPIRED})


@dataclass(frozen=True)
class StatusResult:
    received: int
    matched: int
    settled: int
    rejected: int
    unmatched: list[str]


def apply_status_messages(raw: bytes) -> StatusResult:
    bodies, findings = parse_status_messages(raw)
    if findings:
        raise ValueError(f"not a StandardResponseArray: {findings[0].message}")
    return apply_status_bodies(bodies)


def apply_status_bodies(bodies: list[StandardResponseBody]) -> StatusResult:
    txns = {b.transactionID for b in bodies if b.transactionID}
    surs = {b.senderUniqueReference for b in bodies if b.senderUniqueReference}
    now = timezone.now()
    with transaction.atomic():
        found = list(
            Message.objects.select_for_update()
            .filter(direction=Direction.OUTBOUND)
            .filter(Q(transaction_id__in=txns) | Q(sender_unique_reference__in=surs))
        )
        by_txn = {m.transaction_id: m for m in found if m.transaction_id}
        by_sur = {m.sender_unique_reference: m for m in found}
        reports, unmatched = [], []
        settle: dict[int, Message] = {}
        reject: dict[int, tuple[Message, StandardResponseBody]] = {}
        fill_txn: list[Message] = []
        for b in bodies:
            m = by_txn.get(b.transactionID or "") or by_sur.get(b.senderUniqueReference or "")
            if m is None:
                unmatched.append(b.transactionID or b.senderUniqueReference or "?")
            elif b.transactionID and not m.transaction_id:
                m.transaction_id = b.transactionID  # MSG1006 after a lost response: learnt here
                fill_txn.append(m)
            reports.append(
                StatusReport(
                    message=m,
                    transaction_id=b.transactionID or "",
                    sender_unique_reference=b.senderUniqueReference or "",
                    code=b.code or "",
                    text=(b.message or "")[:200],
                    help=(b.help or "")[:500],
                    sender_id=b.senderID or "",
                    success=b.is_success,
                    received_at=now,
                    body=b.to_dict(),
                )
            )
            if m is None:
                continue
            if b.is_success:
                if m.pk not in reject:
                    settle[m.pk] = m
            else:
                settle.pop(m.pk, None)
                reject.setdefault(m.pk, (m, b))
        StatusReport.objects.bulk_create(reports)
        if fill_txn:
            Message.objects.bulk_update(fill_txn, ["transaction_id"])
        verdicts: list[tuple[Message, _Verdict | None]] = [(m, None) for m in settle.values()]
        verdicts += [
            (m, _Verdict(b.code or "", b.message or "", b.help or "", b.senderID or ""))
            for m, b in reject.values()
        ]
        settled, rejected = _settle_or_reject(verdicts, now)
    return StatusResult(
        len(bodies), len(bodies) - len(unmatched), len(settled), len(rejected), unmatched
    )


@dataclass(frozen=True)
class _Verdict:
    """A rejecting status (code, text, help, sender) as received or as stored."""

    code: str
    message: str
    help: str
    sender_id: str


def _settle_or_reject(
    verdicts: list[tuple[Message, _Verdict | None]], now: datetime, *, exceptions: bool = True
) -> tuple[list[Message], list[Message]]:
    """Settle the messages with a None verdict, reject the others (with an exception unless
    ``exceptions`` is off: it was opened when the status arrived); only those in a state that
    allows it move. Clears their L4 timers and resolves TIMEOUTs."""
    settled = core.transition_many(
        [m for m, v in verdicts if v is None and m.state in SETTLE_FROM],
        State.SETTLED,
        actor=ACTOR,
        reason="L4 status: success",
    )
    refused = [(m, v) for m, v in verdicts if v is not None]
    rejected = core.transition_many(
        [m for m, _ in refused if m.state in REJECT_FROM],
        State.REJECTED,
        actor=ACTOR,
        reason="status message: rejected",
        per_message={m.pk: {"code": v.code, "message": v.message} for m, v in refused},
    )
    for m, v in refused if exceptions else ():
        core.open_exception(
            m,
            category=(
                ExceptionCategory.REJECTED_BY_DIP
                if v.code.startswith("MSG")
                else ExceptionCategory.REJECTED_BY_RECIPIENT
            ),
            code=v.code,
            summary=f"{v.sender_id}: {v.message or v.code} {v.help}".strip(),
        )
    done = [m.pk for m in settled] + [m.pk for m in rejected]
    if done:
        OutboxEntry.objects.filter(message_id__in=done).update(status_due_at=None)
        MessageException.objects.filter(
            message_id__in=done,
            category=ExceptionCategory.TIMEOUT,
            status=MessageException.Status.OPEN,
        ).update(
            status=MessageException.Status.RESOLVED,
            resolved_at=now,
            resolved_by=ACTOR,
            resolution="status arrived late",
        )
    return settled, rejected


def apply_pending_reports(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """Statuses that arrived before the message was accepted (the DIP took it, our answer was
    lost, and the L4 status came while it waited in the outbox to be resent) were stored but
    could not settle it. Called by the sender once these messages reach ACCEPTED: a rejecting
    status wins over a success, as in ``apply_status_bodies``. Returns (settled, rejected)."""
    if not messages:
        return [], []
    reports = list(
        StatusReport.objects.filter(message_id__in=[m.pk for m in messages]).order_by("id")
    )
    if not reports:
        return [], []
    by_id = {m.pk: m for m in messages}
    verdicts: dict[int, tuple[Message, _Verdict | None]] = {}
    for r in reports:
        m = by_id[r.message_id or 0]
        if r.success:
            verdicts.setdefault(m.pk, (m, None))
        elif verdicts.get(m.pk, (m, None))[1] is None:
            verdicts[m.pk] = (m, _Verdict(r.code, r.text, r.help, r.sender_id))
    # The rejection's exception was opened when the status arrived.
    return _settle_or_reject(list(verdicts.values()), timezone.now(), exceptions=False)


def expire_overdue(*, limit: int = 1000) -> int:
    """Timer: accepted messages whose L4 status has not arrived in time → EXPIRED + TIMEOUT."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboxEntry.objects.select_for_update(skip_locked=True)
            .filter(status_due_at__lt=now)
            .order_by("status_due_at")[:limit]
        )
        if not due:
            return 0
        messages = list(
            Message.objects.filter(pk__in=[e.message_id for e in due], state=State.ACCEPTED)
        )
        expired = core.transition_many(
            messages, State.EXPIRED, actor="outbound-timer", reason="no L4 status in time"
        )
        for m in expired:
            entry = next(e for e in due if e.message_id == m.pk)
            waited = (now - (entry.accepted_at or now)).total_seconds()
            core.open_exception(
                m,
                category=ExceptionCategory.TIMEOUT,
                code="L4_TIMEOUT",
                summary=f"No status {waited:.0f} s after the DIP accepted it.",
            )
        OutboxEntry.objects.filter(message_id__in=[e.message_id for e in due]).update(
            status_due_at=None
        )
    return len(expired)
