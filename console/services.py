"""Console writes: outbound requeue, exception work (assign, comment, resolve), four-eyes
edit-and-resend, saved searches and bulk actions (outbound requeue; inbound DIP replay and
client redelivery in ``console.replay``). Every operator action is audited in the
tenant's chain, in the same transaction as the change."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import record
from console import search
from console.models import BulkAction, ExceptionComment, ResendRequest
from messaging import services as core
from messaging.models import Message, MessageException
from messaging.outbound.conf import outbound_settings
from messaging.outbound.models import OutboxEntry
from messaging.states import Direction, State, can_move
from tenants.models import User

logger = logging.getLogger(__name__)
REQUEUEABLE = frozenset({State.FAILED, State.REJECTED, State.EXPIRED})


class ConsoleRefused(Exception):
    """An operator action the rules do not allow (e.g. approving one's own edit)."""


# --- outbound requeue -----------------------------------------------------------------------


@dataclass(frozen=True)
class RequeueResult:
    """``requeued``: messages acted on (requeued, replay requested, redelivered)."""

    requeued: int
    skipped: int
    chunks: tuple[dict[str, Any], ...] = ()  # per-call outcomes for the bulk report


def requeue_outbound(*, message_ids: list[int], actor: str, reason: str) -> RequeueResult:
    """Send failed/rejected/expired outbound messages again: back to ``queued`` (the state
    machine's operator move) with their outbox row due now; the sender is nudged on commit.
    Anything else in ``message_ids`` (inbound, in flight, settled) is skipped."""
    messages = list(
        Message.objects.filter(
            pk__in=message_ids, direction=Direction.OUTBOUND, state__in=REQUEUEABLE
        ).only("id", "direction", "state", "mpan_core", "interface_id", "dip_id", "environment")
    )
    now = timezone.now()
    conf = outbound_settings()
    with transaction.atomic():
        moved = core.transition_many(
            messages, State.QUEUED, actor=actor, reason=reason or "requeued by an operator"
        )
        ids = [m.pk for m in moved]
        OutboxEntry.objects.filter(message_id__in=ids).update(
            pending=True, due_at=now, lease_until=None, last_error="", status_due_at=None
        )
        have = set(OutboxEntry.objects.filter(message_id__in=ids).values_list("pk", flat=True))
        OutboxEntry.objects.bulk_create(
            [
                OutboxEntry(
                    message=m,
                    environment=m.environment,
                    dip_id=m.dip_id,
                    interface_id=m.interface_id,
                    mpan_core=m.mpan_core,
                    ordered=conf.is_ordered(m.interface_id, m.mpan_core),
                    due_at=now,
                    queued_at=now,
                )
                for m in moved
                if m.pk not in have
            ],
            ignore_conflicts=True,
        )
        MessageException.objects.filter(
            message_id__in=ids, status=MessageException.Status.OPEN
        ).update(
            status=MessageException.Status.RESOLVED,
            resolved_at=now,
            resolved_by=actor,
            resolution="requeued",
        )
        groups = {(m.environment, m.dip_id, m.interface_id) for m in moved}
        transaction.on_commit(lambda: _nudge(groups))
    return RequeueResult(len(moved), len(message_ids) - len(moved))


def _nudge(groups: set[tuple[str, str, str]]) -> None:
    from messaging.outbound.services.sender import nudge

    for environment, dip_id, interface_id in groups:
        try:
            nudge(environment, dip_id, interface_id)
        except Exception:  # the sweeper picks due rows up anyway (the broker only nudges)
            logger.warning("nudge failed for %s/%s/%s", environment, dip_id, interface_id)


def retry_message(*, message: Message, user: User) -> RequeueResult:
    with transaction.atomic():
        result = requeue_outbound(message_ids=[message.pk], actor=user.email, reason="retry")
        if not result.requeued:
            raise ConsoleRefused(f"{message.state} {message.direction} messages cannot be retried.")
        record(action="console.message.requeued", actor=user, target=message, summary="Retried")
    return result


# --- exception workbench --------------------------------------------------------------------


def assign_exception(*, exception: MessageException, assignee: str, user: User) -> None:
    with transaction.atomic():
        before = exception.assigned_to
        exception.assigned_to = assignee[:254]
        exception.save(update_fields=["assigned_to"])
        record(
            action="console.exception.assigned",
            actor=user,
            target=exception,
            changes={"assigned_to": [before, exception.assigned_to]},
        )


def comment_exception(*, exception: MessageException, text: str, user: User) -> ExceptionComment:
    text = text.strip()
    if not text:
        raise ConsoleRefused("A comment needs some text.")
    with transaction.atomic():
        comment = ExceptionComment.objects.create(exception=exception, author=user.email, text=text)
        record(action="console.exception.commented", actor=user, target=exception, summary=text)
    return comment


def resolve_exception(*, exception: MessageException, resolution: str, user: User) -> int:
    with transaction.atomic():
        n = core.resolve_exceptions(exception.message, by=user.email, resolution=resolution)
        record(
            action="console.exception.resolved",
            actor=user,
            target=exception.message,
            summary=f"{n} exception(s) resolved: {resolution}",
        )
    return n


# --- four-eyes edit-and-resend --------------------------------------------------------------


def request_resend(
    *, original: Message, edited_item: dict[str, Any], reason: str, user: User
) -> ResendRequest:
    if original.direction != Direction.OUTBOUND:
        raise ConsoleRefused("Only outbound messages can be edited and resent.")
    if not reason.strip():
        raise ConsoleRefused("Say why the message is being edited.")
    with transaction.atomic():
        req = ResendRequest.objects.create(
            original=original,
            edited_item=edited_item,
            reason=reason[:500],
            editor=user.email,
            editor_id=user.pk,
        )
        record(
            action="console.resend.requested",
            actor=user,
            target=original,
            summary=reason,
            changes={"resend_request": req.pk, "edited_item": edited_item},
        )
    return req


Submitter = Callable[..., Any]


def _default_submit(**kwargs: Any) -> Any:
    from messaging.outbound.services.submit import submit

    return submit(**kwargs)


def decide_resend(
    *,
    request: ResendRequest,
    user: User,
    approve: bool,
    note: str = "",
    submit: Submitter = _default_submit,
) -> ResendRequest:
    """The second pair of eyes. The editor can never approve (or reject) their own edit. On
    approval the edited copy goes through the normal outbound submission (full validation, a
    new message with its own SUR); the original is left as it was."""
    from messaging.outbound.services.submit import SubmissionRefused

    if request.editor_id == user.pk:
        record(
            action="console.resend.self_approval_refused",
            actor=user,
            target=request.original,
            summary="The editor tried to approve their own edit.",
        )
        raise ConsoleRefused("Another user must approve this edit (four-eyes rule).")
    with transaction.atomic():
        req = ResendRequest.objects.select_for_update().get(pk=request.pk)
        if req.status != ResendRequest.Status.PENDING:
            raise ConsoleRefused(f"This request is already {req.get_status_display().lower()}.")
        req.approver, req.decided_at = user.email, timezone.now()
        original = req.original
        if not approve:
            req.status, req.outcome = ResendRequest.Status.REJECTED, note[:500]
        else:
            try:
                with transaction.atomic():
                    result = submit(
                        dip_id=original.dip_id,
                        interface_id=original.interface_id,
                        items=[req.edited_item],
                        principal=f"user:{user.email}",
                        environment=original.environment,
                        spec_version=original.spec_version,
                    )
            except SubmissionRefused as exc:
                findings = "; ".join(
                    f"{f.get('code')} {f.get('path')}: {f.get('message')}"
                    for f in exc.details.get("findings", [])[:5]
                )
                req.status = ResendRequest.Status.FAILED
                req.outcome = f"{exc.code}: {exc} {findings}".strip()[:500]
            else:
                ids = result.submission.message_ids
                req.resent = Message.objects.filter(pk__in=ids).first()
                req.status, req.outcome = ResendRequest.Status.SENT, note[:500]
        req.save()
        record(
            action=f"console.resend.{'approved' if approve else 'rejected'}",
            actor=user,
            target=original,
            summary=f"{req.get_status_display()}: {req.outcome}"[:500],
            changes={
                "resend_request": req.pk,
                "editor": req.editor,
                "resent": req.resent_id,
            },
        )
    return req


# --- bulk actions ---------------------------------------------------------------------------


INBOUND_KINDS = frozenset({BulkAction.Kind.REPLAY_INBOUND, BulkAction.Kind.REDELIVER_INBOUND})
KINDS_BY_DIRECTION: dict[str, tuple[str, ...]] = {
    Direction.OUTBOUND: (BulkAction.Kind.REQUEUE_OUTBOUND,),
    Direction.INBOUND: (BulkAction.Kind.REPLAY_INBOUND, BulkAction.Kind.REDELIVER_INBOUND),
    "": (
        BulkAction.Kind.REQUEUE_OUTBOUND,
        BulkAction.Kind.REPLAY_INBOUND,
        BulkAction.Kind.REDELIVER_INBOUND,
    ),
}
EFFECTS: dict[str, str] = {
    BulkAction.Kind.REQUEUE_OUTBOUND: (
        "Each failed, rejected or expired outbound message goes back to queued and is sent "
        "to the DIP again; its open exceptions are resolved."
    ),
    BulkAction.Kind.REPLAY_INBOUND: (
        "The DIP is asked (its requeue API, at most 100 transaction IDs per call, grouped by "
        "DIP ID, interface and environment) to deliver these messages to our webhook again, "
        "marked replayIndicator; we count them as duplicates. No message changes state."
    ),
    BulkAction.Kind.REDELIVER_INBOUND: (
        "Every event of these messages is pushed again to each matching client endpoint "
        "(same webhook-id, so the client can recognise it). No message changes state."
    ),
}


def kinds_for(direction: str) -> list[tuple[str, str]]:
    """(value, label) of the bulk kinds that make sense for a search's direction."""
    return [(k, BulkAction.Kind(k).label) for k in KINDS_BY_DIRECTION.get(direction, ())]


@dataclass(frozen=True)
class DryRun:
    count: search.Count
    eligible: search.Count
    sample: list[Message]
    kind: str = ""

    @property
    def effect(self) -> str:
        return EFFECTS.get(self.kind, "")


def eligible_query(kind: str, query: search.SearchQuery) -> search.SearchQuery:
    """The subset of a search a bulk action can act on."""
    from dataclasses import replace

    if kind == BulkAction.Kind.REQUEUE_OUTBOUND:
        states = set(REQUEUEABLE) & set(query.states or REQUEUEABLE)
        if query.status_group:
            states &= search.STATUS_GROUPS[query.status_group]
        return replace(query, direction=Direction.OUTBOUND, states=tuple(sorted(states)) or ("-",))
    if kind in INBOUND_KINDS:
        if query.direction and query.direction != Direction.INBOUND:
            return replace(query, direction=Direction.INBOUND, states=("-",))
        return replace(query, direction=Direction.INBOUND)
    raise ConsoleRefused(f"Unknown bulk action {kind!r}.")


def dry_run(*, kind: str, query: search.SearchQuery, sample_size: int = 20) -> DryRun:
    target = eligible_query(kind, query)
    return DryRun(
        count=search.count(query),
        eligible=search.count(target),
        sample=search.page(target, size=sample_size).items,
        kind=kind,
    )


def start_bulk(
    *,
    kind: str,
    query: search.SearchQuery,
    user: User,
    chunk_size: int = 500,
    rate_per_second: int = 2000,
    enqueue: bool = True,
) -> BulkAction:
    target = eligible_query(kind, query)
    top = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with transaction.atomic():
        action = BulkAction.objects.create(
            kind=kind,
            params=query.to_params(),
            total=search.count(target, cap=10_000_000).value,
            ceiling=top + 1,
            cursor=top + 1,
            chunk_size=max(1, min(chunk_size, 5000)),
            rate_per_second=max(1, rate_per_second),
            requested_by=user.email,
        )
        record(
            action="console.bulk.started",
            actor=user,
            target=action,
            summary=f"{action.get_kind_display()}: {action.total} message(s)",
            changes={"params": action.params},
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(action.pk))
    return action


def _enqueue(action_id: int, countdown: float = 0) -> None:
    from console.tasks import run_bulk_action

    run_bulk_action.apply_async((action_id,), countdown=countdown)


def control_bulk(*, action: BulkAction, command: str, user: User) -> BulkAction:
    """pause / resume / cancel: flags the worker checks between chunks."""
    with transaction.atomic():
        action = BulkAction.objects.select_for_update().get(pk=action.pk)
        if action.finished:
            raise ConsoleRefused(f"The action is already {action.status}.")
        resume = False
        if command == "pause":
            action.pause_requested = True
        elif command == "cancel":
            action.cancel_requested = True
            if action.status in (BulkAction.Status.PAUSED, BulkAction.Status.QUEUED):
                action.status, action.finished_at = BulkAction.Status.CANCELLED, timezone.now()
        elif command == "resume":
            action.pause_requested = False
            if action.status == BulkAction.Status.PAUSED:
                action.status, resume = BulkAction.Status.QUEUED, True
        else:
            raise ConsoleRefused(f"Unknown command {command!r}.")
        action.save()
        record(action=f"console.bulk.{command}", actor=user, target=action)
        if resume:
            transaction.on_commit(lambda: _enqueue(action.pk))
    return action


def run_bulk(
    action_id: int,
    *,
    max_chunks: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BulkAction:
    """Work through a bulk action chunk by chunk, checking pause/cancel between chunks and
    keeping to ``rate_per_second``. Safe to run twice: the cursor only moves forward and a
    requeued message is no longer eligible."""
    action = BulkAction.objects.get(pk=action_id)
    if action.finished or action.status == BulkAction.Status.PAUSED:
        return action
    BulkAction.objects.filter(pk=action_id).update(
        status=BulkAction.Status.RUNNING, started_at=action.started_at or timezone.now()
    )
    target = eligible_query(action.kind, search.SearchQuery.from_params(action.params))
    done_chunks = 0
    while True:
        action.refresh_from_db()
        if action.cancel_requested:
            return _finish(action, BulkAction.Status.CANCELLED)
        if action.pause_requested:
            BulkAction.objects.filter(pk=action_id).update(status=BulkAction.Status.PAUSED)
            action.refresh_from_db()
            return action
        if max_chunks is not None and done_chunks >= max_chunks:
            return action
        started = time.monotonic()
        ids = next(iter(search.iter_ids(target, below=action.cursor, chunk=action.chunk_size)), [])
        if not ids:
            return _finish(action, BulkAction.Status.DONE)
        result = _run_chunk(action, ids)
        BulkAction.objects.filter(pk=action_id).update(
            cursor=ids[-1],
            processed=F("processed") + len(ids),
            succeeded=F("succeeded") + result.requeued,
            skipped=F("skipped") + result.skipped,
        )
        if result.chunks:
            _append_chunks(action_id, result.chunks)
        done_chunks += 1
        budget = len(ids) / action.rate_per_second - (time.monotonic() - started)
        if budget > 0:
            sleep(budget)


def _run_chunk(action: BulkAction, ids: list[int]) -> RequeueResult:
    actor, reason = f"bulk:{action.pk}", f"bulk action #{action.pk}"
    if action.kind == BulkAction.Kind.REPLAY_INBOUND:
        from console.replay import replay_inbound

        return replay_inbound(message_ids=ids, actor=actor, reason=reason, bulk=action)
    if action.kind == BulkAction.Kind.REDELIVER_INBOUND:
        from console.replay import redeliver_inbound

        return redeliver_inbound(message_ids=ids, actor=actor, reason=reason, bulk=action)
    return requeue_outbound(message_ids=ids, actor=actor, reason=reason)


REPORT_CHUNKS = 200  # the report keeps the first chunks' outcomes; totals are always kept


def _append_chunks(action_id: int, chunks: tuple[dict[str, Any], ...]) -> None:
    with transaction.atomic():
        action = BulkAction.objects.select_for_update().get(pk=action_id)
        report = dict(action.report or {})
        kept = list(report.get("chunks", []))
        report["chunk_count"] = int(report.get("chunk_count", 0)) + len(chunks)
        report["failed_chunks"] = int(report.get("failed_chunks", 0)) + sum(
            1 for c in chunks if not c.get("ok")
        )
        report["chunks"] = (kept + list(chunks))[:REPORT_CHUNKS]
        action.report = report
        action.save(update_fields=["report"])


VERBS: dict[str, str] = {
    BulkAction.Kind.REQUEUE_OUTBOUND: "requeued",
    BulkAction.Kind.REPLAY_INBOUND: "replay requested",
    BulkAction.Kind.REDELIVER_INBOUND: "redelivered",
}


def _finish(action: BulkAction, status: str) -> BulkAction:
    action.status, action.finished_at = status, timezone.now()
    action.report = {
        **(action.report or {}),
        "processed": action.processed,
        "succeeded": action.succeeded,
        "skipped": action.skipped,
        "outcome": status,
    }
    action.save(update_fields=["status", "finished_at", "report"])
    record(
        action=f"console.bulk.{status}",
        actor=None,
        target=action,
        summary=f"{action.succeeded} {VERBS.get(action.kind, 'done')}, {action.skipped} skipped",
    )
    return action


def legal(message: Message, to_state: str) -> bool:
    return can_move(message.direction, message.state, to_state)
