"""Retention: what may be purged, and the purge itself (inside one tenant's schema).

Nothing is purged that is still needed:

* an **open exception** (``messaging.MessageException`` with status open) keeps its message;
* an active **legal hold** keeps what it covers (everything, one MPAN, or a date range of
  message creation); a hold on everything stops the whole purge;
* messages that are not in a final state are never purged (they are still being worked on);
* anything a registered **protector** claims — evidence packs will register one so messages in
  an unexpired pack stay (``register_protector``; see docs/operations.md, "Retention");
* a raw body is deleted only once nothing references it any more (messages, receipts, …).

Every purge run is audited (``retention.purge``) with its cut-offs and counts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from audit.services import Actor, record
from messaging.models import FeedEvent, Message, MessageException, RawBody
from messaging.states import FINAL_STATES, Direction
from retention.models import LegalHold, RetentionPolicy

log = logging.getLogger(__name__)

BATCH = 500
# A protector takes the candidate messages and returns the ones it needs kept.
Protector = Callable[[QuerySet[Message]], QuerySet[Message]]
_PROTECTORS: list[Protector] = []


def register_protector(protector: Protector) -> Protector:
    """Register a hook that keeps messages from being purged (e.g. unexpired evidence packs)."""
    if protector not in _PROTECTORS:
        _PROTECTORS.append(protector)
    return protector


def unregister_protector(protector: Protector) -> None:
    if protector in _PROTECTORS:
        _PROTECTORS.remove(protector)


def get_policy() -> RetentionPolicy:
    policy, _ = RetentionPolicy.objects.get_or_create(pk=1)
    return policy


def set_policy(
    *, raw_body_days: int, message_days: int, log_days: int, actor: Any
) -> RetentionPolicy:
    for name, days in (("raw_body_days", raw_body_days), ("message_days", message_days)):
        if days < 1:
            raise ValueError(f"{name} must be at least 1 day")
    with transaction.atomic():
        policy = get_policy()
        before = {
            "raw_body_days": policy.raw_body_days,
            "message_days": policy.message_days,
            "log_days": policy.log_days,
        }
        policy.raw_body_days, policy.message_days, policy.log_days = (
            raw_body_days,
            message_days,
            log_days,
        )
        policy.updated_by = getattr(actor, "email", "") or str(actor or "system")
        policy.save()
        after = {"raw_body_days": raw_body_days, "message_days": message_days, "log_days": log_days}
        record(
            action="retention.policy_changed",
            actor=actor,
            target=policy,
            changes={"before": before, "after": after},
        )
    return policy


def place_hold(
    *,
    scope: str,
    reason: str,
    actor: Any,
    mpan_core: str = "",
    date_from: Any = None,
    date_to: Any = None,
    reference: str = "",
) -> LegalHold:
    LegalHold.Scope(scope)
    with transaction.atomic():
        hold = LegalHold.objects.create(
            scope=scope,
            mpan_core=mpan_core,
            date_from=date_from,
            date_to=date_to,
            reason=reason,
            reference=reference,
            created_by=getattr(actor, "email", "") or "system",
        )
        record(
            action="retention.hold_placed",
            actor=actor,
            target=hold,
            changes={
                "scope": scope,
                "date_from": date_from,
                "date_to": date_to,
                "reference": reference,
                "mpan_last4": mpan_core[-4:],
            },
        )
    return hold


def release_hold(hold: LegalHold, *, actor: Any, reason: str = "") -> LegalHold:
    with transaction.atomic():
        hold.released_at = timezone.now()
        hold.released_by = getattr(actor, "email", "") or "system"
        hold.save(update_fields=["released_at", "released_by"])
        record(action="retention.hold_released", actor=actor, target=hold, summary=reason)
    return hold


def held_messages_q(holds: list[LegalHold]) -> Q | None:
    """Q matching messages covered by these holds; None when none applies."""
    q: Q | None = None
    for hold in holds:
        if hold.scope == LegalHold.Scope.MPAN:
            part = Q(mpan_core=hold.mpan_core)
        elif hold.scope == LegalHold.Scope.DATE_RANGE:
            part = Q(created__date__gte=hold.date_from, created__date__lte=hold.date_to)
        else:
            part = Q()
        q = part if q is None else q | part
    return q


def purgeable_messages(*, cutoff: datetime, holds: list[LegalHold]) -> QuerySet[Message]:
    final = Q()
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        final |= Q(direction=direction, state__in=list(FINAL_STATES[direction]))
    open_exception = MessageException.objects.filter(
        message=OuterRef("pk"), status=MessageException.Status.OPEN
    )
    qs = Message.objects.filter(final, created__lt=cutoff).exclude(Exists(open_exception))
    held = held_messages_q(holds)
    if held is not None:
        qs = qs.exclude(held)
    for protector in _PROTECTORS:
        qs = qs.exclude(pk__in=protector(qs).values("pk"))
    return qs


def unreferenced_raw_bodies(*, cutoff: datetime) -> QuerySet[RawBody]:
    """Raw bodies older than ``cutoff`` that no row of any model references any more."""
    qs = RawBody.objects.filter(created__lt=cutoff)
    for rel in RawBody._meta.related_objects:
        qs = qs.filter(**{f"{rel.field.related_query_name()}__isnull": True})
    return qs


@dataclass
class PurgeResult:
    schema: str
    messages: int = 0
    raw_bodies: int = 0
    feed_events: int = 0
    files: int = 0
    skipped: str = ""
    cutoffs: dict[str, str] = field(default_factory=dict)


def _delete_in_batches(qs: QuerySet[Any]) -> int:
    total = 0
    while True:
        ids = list(qs.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        with transaction.atomic():
            qs.model.objects.filter(pk__in=ids).delete()
        total += len(ids)


def purge(*, now: datetime | None = None, actor: Any = None) -> PurgeResult:
    """Apply this tenant's retention policy once. Safe to run twice (the second run finds
    nothing). Audited with counts even when nothing was due."""
    from django.core.files.storage import default_storage

    from dcp.db import current_schema

    now = now or timezone.now()
    actor = actor or Actor.system("retention")
    policy = get_policy()
    result = PurgeResult(schema=current_schema())
    message_cutoff = now - timedelta(days=policy.message_days)
    raw_cutoff = now - timedelta(days=policy.raw_body_days)
    log_cutoff = now - timedelta(days=policy.log_days)
    result.cutoffs = {
        "messages": message_cutoff.isoformat(),
        "raw_bodies": raw_cutoff.isoformat(),
        "logs": log_cutoff.isoformat(),
    }
    holds = list(LegalHold.objects.filter(released_at__isnull=True))
    if any(h.scope == LegalHold.Scope.ALL for h in holds):
        result.skipped = "legal hold on everything"
    else:
        result.messages = _delete_in_batches(purgeable_messages(cutoff=message_cutoff, holds=holds))
        # Feed events are the client-facing log of messages; old ones of held or open-exception
        # messages stay with their message.
        kept = purgeable_messages(cutoff=now + timedelta(days=1), holds=holds)
        feed = FeedEvent.objects.filter(
            created__lt=log_cutoff, seq__isnull=False, message__in=kept.values("pk")
        )
        result.feed_events = _delete_in_batches(feed)
        for raw in unreferenced_raw_bodies(cutoff=raw_cutoff).only("pk", "storage_name").iterator():
            with transaction.atomic():
                RawBody.objects.filter(pk=raw.pk).delete()
            result.raw_bodies += 1
            if raw.storage_name:
                transaction.on_commit(functools.partial(default_storage.delete, raw.storage_name))
                result.files += 1
    record(
        action="retention.purge",
        actor=actor,
        target_type="retention.RetentionPolicy",
        target_id="1",
        summary=(
            f"purged {result.messages} messages, {result.raw_bodies} raw bodies, "
            f"{result.feed_events} feed events" + (f" ({result.skipped})" if result.skipped else "")
        ),
        changes={**asdict(result), "policy": str(policy), "active_holds": len(holds)},
    )
    log.info("retention purge %s", result)
    return result
