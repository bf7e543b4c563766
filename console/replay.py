"""Inbound bulk work: ask the DIP to deliver messages to our webhook again, and push them to
the client's own endpoints again. Neither changes a message's state: each chunk is audited
(who, why, how many transaction IDs and a sample) and each DIP call is kept in the bulk
action's report.

*DIP replay* uses the DIP's **requeue** operation (``dip.replay``): that is the one that
re-delivers to the registered webhook (``replay`` only returns the items in the response body).
Calls are grouped by (DIP ID, interface, environment, spec version), made with the DIP ID's own
credentials (``messaging.inbound.dipconn.client_for``, i.e. the pooled ``sender_for`` client)
and never name more than 100 transaction IDs (``MessageRequest.chunks``). The DIP marks what it
re-delivers ``replayIndicator``; our webhook acknowledges and counts it as a duplicate.

*Redelivery* re-arms the client endpoints' deliveries of these messages' feed events (the
message-scoped form of ``messaging.inbound.endpoints.replay_endpoint``: same ``_matches``,
same nudge, same webhook-id so the client recognises what it already has).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import record
from console.models import BulkAction
from console.services import ConsoleRefused, RequeueResult
from dip.errors import DipError
from dip.replay import MessageRequest, ReplayClientV210, ReplayClientV221
from messaging.inbound import dipconn
from messaging.models import FeedEvent, Message
from messaging.states import Direction
from tenants.models import User

logger = logging.getLogger(__name__)
SAMPLE = 10
V221 = "2.2.1"
Actor = User | None


def _audit(
    *, action: str, actor: Actor, who: str, reason: str, target: Any, ids: list[str], extra: Any
) -> None:
    record(
        action=action,
        actor=actor,
        target=target,
        summary=f"{len(ids)} message(s) by {who}: {reason}"[:500],
        changes={"count": len(ids), "sample": ids[:SAMPLE], "by": who, **extra},
    )


def _inbound(message_ids: list[int]) -> list[Message]:
    return list(
        Message.objects.filter(pk__in=message_ids, direction=Direction.INBOUND).only(
            "id", "transaction_id", "dip_id", "interface_id", "environment", "spec_version"
        )
    )


# --- ask the DIP to replay ------------------------------------------------------------------


def _requeue(client: Any, spec: str, interface_id: str, dip_id: str, ids: tuple[str, ...]) -> Any:
    request = MessageRequest(transaction_ids=ids)
    if spec == V221:
        return ReplayClientV221(client).requeue(interface_id, dip_id, request)
    return [r.status_code for r in ReplayClientV210(client).requeue(interface_id, dip_id, request)]


def replay_inbound(
    *,
    message_ids: list[int],
    actor: str,
    reason: str,
    user: User | None = None,
    bulk: BulkAction | None = None,
) -> RequeueResult:
    """Ask the DIP to re-deliver these inbound messages to our webhook (one call per group
    and 100 transaction IDs). Messages without a transaction ID, outbound ones, and those of
    a failed call are skipped; every call's outcome is returned for the report."""
    messages = [m for m in _inbound(message_ids) if m.transaction_id]
    groups: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for m in messages:
        groups[(m.dip_id, m.interface_id, m.environment, m.spec_version)].append(m.transaction_id)
    chunks: list[dict[str, Any]] = []
    done = 0
    for (dip_id, interface_id, environment, spec), txns in sorted(groups.items()):
        ids = tuple(dict.fromkeys(txns))
        entry_base = {"dip_id": dip_id, "interface_id": interface_id, "environment": environment}
        try:
            with dipconn.client_for(dip_id, environment) as client:
                for part in MessageRequest(transaction_ids=ids).chunks():
                    entry: dict[str, Any] = {
                        **entry_base,
                        "spec_version": spec,
                        "transaction_ids": len(part.transaction_ids),
                        "sample": list(part.transaction_ids[:3]),
                    }
                    try:
                        answer = _requeue(client, spec, interface_id, dip_id, part.transaction_ids)
                    except DipError as exc:
                        entry.update(ok=False, error=str(exc)[:300])
                    else:
                        entry.update(ok=True, answer=answer)
                        done += len(part.transaction_ids)
                    chunks.append(entry)
        except dipconn.NotConfigured as exc:
            chunks.append({**entry_base, "transaction_ids": len(ids), "ok": False,
                           "error": f"not configured: {exc}"[:300]})  # fmt: skip
    sent = [c for c in chunks if c.get("ok")]
    with transaction.atomic():
        _audit(
            action="console.inbound.replay_requested",
            actor=user,
            who=actor,
            reason=reason,
            target=bulk if bulk is not None else (messages[0] if messages else None),
            ids=[m.transaction_id for m in messages],
            extra={"dip_calls": len(chunks), "failed_calls": len(chunks) - len(sent)},
        )
    return RequeueResult(done, len(message_ids) - done, tuple(chunks))


def ask_dip_replay(*, message: Message, user: User, reason: str = "") -> RequeueResult:
    """Workbench: ask the DIP to re-deliver one inbound message."""
    if message.direction != Direction.INBOUND or not message.transaction_id:
        raise ConsoleRefused("Only inbound messages with a DIP transaction ID can be replayed.")
    result = replay_inbound(
        message_ids=[message.pk],
        actor=user.email,
        reason=reason or "asked from the exception workbench",
        user=user,
    )
    if not result.requeued:
        errors = "; ".join(str(c.get("error", "")) for c in result.chunks)
        raise ConsoleRefused(f"The DIP did not accept the replay request: {errors}")
    return result


# --- redeliver to the client's endpoints ----------------------------------------------------


def redeliver_inbound(
    *,
    message_ids: list[int],
    actor: str,
    reason: str,
    user: User | None = None,
    bulk: BulkAction | None = None,
) -> RequeueResult:
    """Push these inbound messages' feed events to every matching client endpoint again."""
    from messaging.inbound.endpoints import _nudge
    from messaging.inbound.models import ClientEndpoint, EndpointDelivery
    from messaging.inbound.push import _matches

    messages = _inbound(message_ids)
    events = list(
        FeedEvent.objects.filter(message_id__in=[m.pk for m in messages], seq__isnull=False).only(
            "id", "seq", "mpan_core", "interface_id", "payload", "message_id"
        )
    )
    now = timezone.now()
    chunks: list[dict[str, Any]] = []
    covered: set[int] = set()
    with transaction.atomic():
        for endpoint in ClientEndpoint.objects.order_by("pk"):
            mine = [e for e in events if (e.seq or 0) <= endpoint.enqueued_through]
            mine = [e for e in mine if _matches(endpoint, e)]
            if not mine:
                continue
            EndpointDelivery.objects.bulk_create(
                [
                    EndpointDelivery(
                        endpoint=endpoint,
                        event=e,
                        seq=e.seq or 0,
                        mpan_core=e.mpan_core,
                        next_attempt_at=now,
                    )
                    for e in mine
                ],
                ignore_conflicts=True,
            )
            n = EndpointDelivery.objects.filter(
                endpoint=endpoint, event_id__in=[e.pk for e in mine]
            ).update(state=EndpointDelivery.State.PENDING, next_attempt_at=now)
            covered.update(e.message_id for e in mine)
            chunks.append(
                {"endpoint": endpoint.name, "state": endpoint.state, "events": n, "ok": True}
            )
            transaction.on_commit(partial(_nudge, endpoint.pk), robust=True)
        _audit(
            action="console.inbound.redelivered",
            actor=user,
            who=actor,
            reason=reason,
            target=bulk if bulk is not None else (messages[0] if messages else None),
            ids=[m.transaction_id or str(m.pk) for m in messages if m.pk in covered],
            extra={"endpoints": [c["endpoint"] for c in chunks]},
        )
    return RequeueResult(len(covered), len(message_ids) - len(covered), tuple(chunks))
