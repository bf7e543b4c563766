"""Reconciliation reads: operational (sent vs acknowledged vs L4-settled), business-process
(requests without their expected response in time), assurance (daily counts and hash totals
per channel), and the lineage of one message."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from audit.models import AuditEvent
from evidence.models import InterfacePair
from evidence.selectors import Scope, scope_messages
from messaging.inbound.models import EndpointDelivery, InboundReceipt, StatusReply
from messaging.models import FeedEvent, Message, MessageException, RawBody
from messaging.outbound.models import Attempt, StatusReport
from messaging.states import Direction, State

SENT = [State.SENT, State.ACCEPTED, State.SETTLED, State.REJECTED, State.EXPIRED]
ACKNOWLEDGED = [State.ACCEPTED, State.SETTLED]
DIFFERENCE_LIMIT = 200


# --- operational --------------------------------------------------------------------------


@dataclass(frozen=True)
class OperationalRow:
    day: date
    interface_id: str
    sent: int
    acknowledged: int
    settled: int

    @property
    def not_acknowledged(self) -> int:
        return self.sent - self.acknowledged

    @property
    def not_settled(self) -> int:
        return self.acknowledged - self.settled


def operational(scope: Scope) -> list[OperationalRow]:
    qs = (
        scope_messages(scope)
        .filter(direction=Direction.OUTBOUND)
        .annotate(day=TruncDate("created", tzinfo=timezone.get_current_timezone()))
        .values("day", "interface_id")
        .annotate(
            sent=Count("id", filter=Q(state__in=SENT)),
            acknowledged=Count("id", filter=Q(state__in=ACKNOWLEDGED)),
            settled=Count("id", filter=Q(state=State.SETTLED)),
        )
        .order_by("day", "interface_id")
    )
    return [OperationalRow(**row) for row in qs]


def operational_differences(scope: Scope) -> QuerySet[Message]:
    """Outbound messages sent but not acknowledged, or acknowledged but not settled."""
    return (
        scope_messages(scope)
        .filter(direction=Direction.OUTBOUND)
        .filter(Q(state__in=[State.SENT, State.REJECTED, State.EXPIRED]) | Q(state=State.ACCEPTED))
        .order_by("created", "id")
    )


# --- business process ---------------------------------------------------------------------


@dataclass
class PairResult:
    pair: InterfacePair
    requests: int = 0
    answered: int = 0
    pending: int = 0
    overdue: int = 0
    overdue_messages: list[Message] = field(default_factory=list)


def _requests(scope: Scope, pair: InterfacePair) -> Any:  # annotated queryset (answered)
    limit = timedelta(minutes=pair.limit_minutes)
    response = Message.objects.filter(
        interface_id=pair.response_interface_id,
        mpan_core=OuterRef("mpan_core"),
        created__gte=OuterRef("created"),
        created__lte=OuterRef("created") + limit,
    )
    return (
        scope_messages(scope)
        .filter(interface_id=pair.request_interface_id)
        .annotate(answered=Exists(response))
    )


def business(scope: Scope, *, now: datetime | None = None) -> list[PairResult]:
    now = now or timezone.now()
    results = []
    for pair in InterfacePair.objects.all():
        qs = _requests(scope, pair)
        deadline = now - timedelta(minutes=pair.limit_minutes)
        overdue = qs.filter(answered=False, created__lt=deadline)
        result = PairResult(pair, qs.count(), qs.filter(answered=True).count(), 0, overdue.count())
        result.pending = result.requests - result.answered - result.overdue
        result.overdue_messages = list(
            qs.filter(answered=False, created__lt=deadline).order_by("created")[:DIFFERENCE_LIMIT]
        )
        results.append(result)
    return results


def business_overdue(
    scope: Scope, *, now: datetime | None = None
) -> Iterator[tuple[InterfacePair, Message]]:
    now = now or timezone.now()
    for pair in InterfacePair.objects.all():
        deadline = now - timedelta(minutes=pair.limit_minutes)
        qs = _requests(scope, pair).filter(answered=False, created__lt=deadline).order_by("id")
        for message in qs.iterator(chunk_size=2000):
            yield pair, message


# --- assurance ----------------------------------------------------------------------------

ASSURANCE_SQL = """
SELECT (m.created AT TIME ZONE %(tz)s)::date AS day, m.direction, m.environment, m.dip_id,
       m.interface_id, count(*) AS messages,
       count(*) FILTER (WHERE m.transaction_id <> '') AS with_transaction_id,
       encode(sha256(convert_to(string_agg(r.sha256, '' ORDER BY r.sha256), 'UTF8')), 'hex')
           AS raw_hash_total,
       encode(sha256(convert_to(coalesce(string_agg(m.transaction_id, ',' ORDER BY
           m.transaction_id) FILTER (WHERE m.transaction_id <> ''), ''), 'UTF8')), 'hex')
           AS transaction_hash_total
FROM {message} m JOIN {raw} r ON r.id = m.raw_id
WHERE m.id IN ({ids})
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
"""


@dataclass(frozen=True)
class AssuranceRow:
    day: date
    direction: str
    environment: str
    dip_id: str
    interface_id: str
    messages: int
    with_transaction_id: int
    raw_hash_total: str
    transaction_hash_total: str


def assurance(scope: Scope) -> list[AssuranceRow]:
    """Per day and channel (direction, environment, DIP ID, interface): the message count and
    two hash totals: SHA-256 over the sorted raw-body hashes, and over the sorted DIP
    transaction ids (comparable with the DIP's own list where it carries them)."""
    ids_sql, ids_params = scope_messages(scope).values("id").query.sql_with_params()
    sql = ASSURANCE_SQL.format(
        message=Message._meta.db_table,
        raw=RawBody._meta.db_table,
        ids=ids_sql.replace("%s", "%%s"),
    )
    params: dict[str, Any] = {"tz": str(timezone.get_current_timezone())}
    # Named and positional placeholders cannot mix: inline the scope's params as named ones.
    for i, value in enumerate(ids_params):
        sql = sql.replace("%%s", f"%(p{i})s", 1)
        params[f"p{i}"] = value
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [AssuranceRow(*row) for row in cursor.fetchall()]


def match_transaction_ids(scope: Scope, dip_ids: set[str]) -> dict[str, list[str]]:
    """Compare the DIP's list of transaction ids with ours for the scope (inbound)."""
    ours = set(
        scope_messages(scope)
        .filter(direction=Direction.INBOUND)
        .exclude(transaction_id="")
        .values_list("transaction_id", flat=True)
    )
    return {
        "missing_here": sorted(dip_ids - ours)[:1000],
        "not_at_dip": sorted(ours - dip_ids)[:1000],
        "matched": [str(len(ours & dip_ids))],
    }


# --- lineage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: datetime | None
    stage: str  # raw, parsed, transition, attempt, status, exception, delivery, audit
    summary: str
    actor: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lineage:
    message: Message
    receipt: InboundReceipt | None
    steps: list[Step]


def lineage(message: Message) -> Lineage:
    steps: list[Step] = []
    raw = message.raw
    receipt = InboundReceipt.objects.filter(raw=raw).order_by("id").first()
    steps.append(
        Step(
            receipt.received_at if receipt else raw.created,
            "raw",
            f"raw {raw.sha256[:16]}… {raw.size} B"
            + (f", batch position {message.raw_index}" if message.raw_index is not None else ""),
            details={"sha256": raw.sha256, "receipt_outcome": receipt.outcome if receipt else ""},
        )
    )
    steps.append(
        Step(
            message.created,
            "parsed",
            f"{message.interface_id} {message.event_code} MPAN {message.mpan_core or '—'}",
            details={"findings": message.findings},
        )
    )
    for t in message.transitions.order_by("id"):
        steps.append(
            Step(t.at, "transition", f"{t.from_state or '∅'} → {t.to_state}: {t.reason}", t.actor)
        )
    for a in Attempt.objects.filter(message_ids__contains=[message.pk]).order_by("id"):
        steps.append(
            Step(
                a.started_at,
                "attempt",
                f"send attempt → {a.status_code or '—'} {a.outcome} ({a.duration_ms} ms)",
                a.worker,
                {"url": a.url, "error": a.error},
            )
        )
    for s in StatusReport.objects.filter(message=message).order_by("id"):
        steps.append(Step(s.received_at, "status", f"status {s.code} {s.text}", s.sender_id))
    reply = StatusReply.objects.filter(message=message).first()
    if reply:
        steps.append(
            Step(reply.sent_at or reply.created, "status", f"L4 reply {reply.code} ({reply.state})")
        )
    for e in MessageException.objects.filter(message=message).order_by("id"):
        steps.append(Step(e.opened_at, "exception", f"{e.category} {e.code}: {e.summary}"))
        if e.resolved_at:
            steps.append(
                Step(e.resolved_at, "exception", f"resolved: {e.resolution}", e.resolved_by)
            )
    events = FeedEvent.objects.filter(message=message).values_list("id", flat=True)
    for d in EndpointDelivery.objects.filter(event_id__in=events).select_related("endpoint"):
        steps.append(
            Step(
                d.delivered_at or d.next_attempt_at,
                "delivery",
                f"to {d.endpoint.name}: {d.state} after {d.attempts} attempt(s)",
            )
        )
    audit = AuditEvent.objects.filter(
        target_type__in=["messaging.Message", "messaging.message"],
        target_id__in=[str(message.pk), str(message.public_id)],
    ).order_by("seq")
    for ev in audit:
        steps.append(
            Step(ev.occurred_at, "audit", f"#{ev.seq} {ev.action}: {ev.summary}", ev.actor_email)
        )
    far = timezone.make_aware(datetime.max - timedelta(days=2))
    # raw in → parsed always lead; everything after them in time order.
    head, rest = steps[:2], sorted(steps[2:], key=lambda s: s.at or far)
    return Lineage(message, receipt, head + rest)
