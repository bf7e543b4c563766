"""Status messages about our messages and the status window (docs/outbound.md, "Status
semantics"; PROTOCOL.md §4.5, §5.2a).

Recipients send status messages only when there is an issue (seed 003 §3.1); silence is the
normal outcome of a healthy message. So, once the DIP has accepted a message:

* a **negative** status (any code other than ``MSG0000``/``RCP0000``, or none) rejects it with
  an exception (REJECTED_BY_DIP for MSG codes, else REJECTED_BY_RECIPIENT) — whenever it
  arrives: during the window, after it, even after the message settled by silence;
* a **positive** status settles it ("positive status");
* **silence** until the end of its interface's status window (``status_window_for``) settles it
  with the distinct reason "no issue reported" (``close_status_windows``) — not an exception.

The status-message webhook calls ``apply_status_bodies`` with the verified callback's items;
statuses correlate by transactionID, else senderUniqueReference. Every status is kept as a
StatusReport, also when the message is already final (a second recipient's answer). A status
that arrives while its message is back in the outbox (the DIP took it but our answer was lost)
is kept and applied when the sender gets the message accepted (``apply_pending_reports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dcp import metrics
from dip.responses import StandardResponseBody, parse_status_messages
from messaging import services as core
from messaging.models import ExceptionCategory, Message, MessageException
from messaging.outbound.models import OutboxEntry, StatusOutcome, StatusReport
from messaging.states import Direction, State

ACTOR = "dip-status"
TIMER_ACTOR = "outbound-status-window"
NO_ISSUE_REPORTED = "no issue reported"
SETTLE_FROM = frozenset({State.SENT, State.ACCEPTED, State.EXPIRED})
# A negative status wins at any time, also over a settlement by silence or a positive status.
REJECT_FROM = frozenset({State.SENT, State.ACCEPTED, State.EXPIRED, State.SETTLED})


@dataclass(frozen=True)
class StatusResult:
    received: int
    matched: int
    settled: int
    rejected: int
    unmatched: list[str]


def apply_status_messages(raw: bytes, *, now: datetime | None = None) -> StatusResult:
    bodies, findings = parse_status_messages(raw)
    if findings:
        raise ValueError(f"not a StandardResponseArray: {findings[0].message}")
    return apply_status_bodies(bodies, now=now)


def apply_status_bodies(
    bodies: list[StandardResponseBody], *, now: datetime | None = None
) -> StatusResult:
    txns = {b.transactionID for b in bodies if b.transactionID}
    surs = {b.senderUniqueReference for b in bodies if b.senderUniqueReference}
    now = now or timezone.now()
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
        _observe_delays(verdicts, now)
        settled, rejected = _settle_or_reject(verdicts, now)
    return StatusResult(
        len(bodies), len(bodies) - len(unmatched), len(settled), len(rejected), unmatched
    )


@dataclass(frozen=True)
class _Verdict:
    """A negative status (code, text, help, sender) as received or as stored."""

    code: str
    message: str
    help: str
    sender_id: str


def _observe_delays(verdicts: list[tuple[Message, _Verdict | None]], now: datetime) -> None:
    """Status delay = status received - the DIP's acceptance (messages it accepted only)."""
    accepted = dict(
        OutboxEntry.objects.filter(
            message_id__in=[m.pk for m, _ in verdicts], accepted_at__isnull=False
        ).values_list("message_id", "accepted_at")
    )
    for m, v in verdicts:
        at = accepted.get(m.pk)
        if at is not None:
            seconds = max(0.0, (now - at).total_seconds())
            metrics.observe_status_delay(seconds, interface=m.interface_id, positive=v is None)


def _settle_or_reject(
    verdicts: list[tuple[Message, _Verdict | None]], now: datetime, *, exceptions: bool = True
) -> tuple[list[Message], list[Message]]:
    """Settle the messages with a None verdict, reject the others (with an exception unless
    ``exceptions`` is off: it was opened when the status arrived); only those in a state that
    allows it move. Closes their status windows and resolves legacy TIMEOUTs."""
    positive = [m for m, v in verdicts if v is None]
    settled = core.transition_many(
        [m for m in positive if m.state in SETTLE_FROM],
        State.SETTLED,
        actor=ACTOR,
        reason="positive status",
        at=now,
    )
    # Settled by silence before, positive now: the better-founded reason is kept.
    moved = {m.pk for m in settled}
    quiet = [m.pk for m in positive if m.state == State.SETTLED and m.pk not in moved]
    OutboxEntry.objects.filter(message_id__in=quiet, status_outcome=StatusOutcome.NO_ISSUE).update(
        status_outcome=StatusOutcome.POSITIVE
    )
    refused = [(m, v) for m, v in verdicts if v is not None]
    was_settled = {m.pk for m, _ in refused if m.state == State.SETTLED}
    rejected = core.transition_many(
        [m for m, _ in refused if m.state in REJECT_FROM],
        State.REJECTED,
        actor=ACTOR,
        reason="negative status",
        at=now,
        per_message={
            m.pk: {"code": v.code, "message": v.message, "after_settled": m.pk in was_settled}
            for m, v in refused
        },
    )
    for m, v in refused if exceptions else ():
        late = " (arrived after the message had settled)" if m.pk in was_settled else ""
        core.open_exception(
            m,
            category=(
                ExceptionCategory.REJECTED_BY_DIP
                if v.code.startswith("MSG")
                else ExceptionCategory.REJECTED_BY_RECIPIENT
            ),
            code=v.code,
            summary=f"{v.sender_id}: {v.message or v.code or 'status without a code'} {v.help}"
            f"{late}".strip(),
        )
    for outcome, group in (
        (StatusOutcome.POSITIVE, settled),
        (StatusOutcome.NEGATIVE, rejected),
    ):
        if group:
            OutboxEntry.objects.filter(message_id__in=[m.pk for m in group]).update(
                status_due_at=None, status_outcome=outcome
            )
    done = [m.pk for m in settled] + [m.pk for m in rejected]
    if done:
        MessageException.objects.filter(
            message_id__in=done,
            category=ExceptionCategory.TIMEOUT,
            status=MessageException.Status.OPEN,
        ).update(
            status=MessageException.Status.RESOLVED,
            resolved_at=now,
            resolved_by=ACTOR,
            resolution="status arrived",
        )
    return settled, rejected


def apply_pending_reports(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """Statuses that arrived before the message was accepted (the DIP took it, our answer was
    lost, and the status came while it waited in the outbox to be resent) were stored but
    could not settle it. Called by the sender once these messages reach ACCEPTED: a negative
    status wins over a positive one, as in ``apply_status_bodies``. Returns (settled,
    rejected)."""
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


def close_status_windows(
    *, now: datetime | None = None, batch: int = 1000, limit: int = 50_000
) -> int:
    """Timer: accepted messages whose status window ended in silence → SETTLED, "no issue
    reported" (no exception). Returns how many settled. A negative status arriving later
    still rejects them (``apply_status_bodies``)."""
    now = now or timezone.now()
    total = 0
    for _ in range(-(-limit // batch)):
        settled, claimed = _close_batch(now, batch)
        total += settled
        if claimed < batch or not settled:  # done, or only rows others hold right now
            break
    return total


def _close_batch(now: datetime, batch: int) -> tuple[int, int]:
    """One batch. Locks run message → outbox entry, the order the status webhook and the
    sender use; messages another transaction holds (a status being applied) are skipped and
    keep their window for the next run."""
    with transaction.atomic():
        due = dict(
            OutboxEntry.objects.filter(status_due_at__lt=now)
            .order_by("status_due_at")
            .values_list("message_id", "accepted_at")[:batch]
        )
        if not due:
            return 0, 0
        messages = list(
            Message.objects.select_for_update(skip_locked=True).filter(
                pk__in=due, state=State.ACCEPTED
            )
        )
        waited = {m.pk: round((now - (due[m.pk] or now)).total_seconds(), 3) for m in messages}
        settled = core.transition_many(
            messages,
            State.SETTLED,
            actor=TIMER_ACTOR,
            reason=NO_ISSUE_REPORTED,
            at=now,
            per_message={pk: {"waited_seconds": s} for pk, s in waited.items()},
        )
        OutboxEntry.objects.filter(message_id__in=[m.pk for m in settled]).update(
            status_due_at=None, status_outcome=StatusOutcome.NO_ISSUE
        )
        # Entries whose message moved on another way (rejected, requeued): window closed.
        OutboxEntry.objects.filter(message_id__in=due, status_due_at__lt=now).exclude(
            message__state=State.ACCEPTED
        ).update(status_due_at=None)
    return len(settled), len(due)


def settle_legacy_expired(*, actor: str, limit: int = 100_000) -> int:
    """Upgrade: messages the former L4 timer left ``expired`` (with an L4_TIMEOUT exception)
    that no negative status names → SETTLED "no issue reported", their timeout exceptions
    resolved. Audited (one entry for the run). Returns how many settled."""
    from audit.services import record

    with transaction.atomic():
        negative = StatusReport.objects.filter(success=False, message_id__isnull=False)
        messages = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(direction=Direction.OUTBOUND, state=State.EXPIRED)
            .exclude(pk__in=negative.values("message_id"))
            .order_by("id")[:limit]
        )
        settled = core.transition_many(
            messages,
            State.SETTLED,
            actor=actor,
            reason=NO_ISSUE_REPORTED,
            details={"legacy": "expired by the former L4 timer"},
        )
        ids = [m.pk for m in settled]
        OutboxEntry.objects.filter(message_id__in=ids).update(
            status_due_at=None, status_outcome=StatusOutcome.NO_ISSUE
        )
        resolved = MessageException.objects.filter(
            message_id__in=ids,
            category=ExceptionCategory.TIMEOUT,
            status=MessageException.Status.OPEN,
        ).update(
            status=MessageException.Status.RESOLVED,
            resolved_at=timezone.now(),
            resolved_by=actor,
            resolution=f"{NO_ISSUE_REPORTED}: silence is the normal outcome (seed 003 §3.1)",
        )
        if settled:
            record(
                action="outbound.legacy_expired_settled",
                actor=None,
                target_type="messaging.Message",
                summary=f"{len(settled)} expired message(s) settled: no issue reported",
                changes={"settled": len(settled), "exceptions_resolved": resolved, "by": actor},
            )
    return len(settled)
