"""The status messages we owe the DIP about our clients' inbound messages (PROTOCOL.md §5.2,
§5.2a; docs/inbound.md "Status replies").

Seed 003 §3.1/§3.3: recipients send a status message when there is an issue with a message's
structure or content; erroneous (needless) statuses are a production problem. So:

* every issue found (L3/L4: a rejecting finding, a repeated sender reference) gets a
  **negative** status with its ``RCP`` code — always, whatever the policy;
* a message without issues gets a **positive** ``RCP0000`` only where the tenant's policy asks
  for it (``StatusReplyPolicy``: tenant default, per-interface override; no row = issues only);
  otherwise its ``StatusReply`` is ``withheld`` — the choice is recorded on every message.

Due replies (``pending``/``failed``) are sent in batches per sending DIP ID (one signed
``POST /statusmessage`` carries many StandardResponse items). Accepted → ``sent``; rejected or
unreachable → ``failed`` with the next attempt pushed back (doubling, capped at an hour); the
sweeper retries. Our L4 response time (message received → status sent, or → the decision that
none is owed) feeds ``dcp_dip_l4_response_seconds`` (``DipL4ResponseSlow``).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dcp import metrics
from dcp.errors import invalid
from dip.responses import StandardResponseBody
from messaging.inbound.dipconn import NotConfigured, client_for
from messaging.inbound.models import ReplyMode, StatusReply, StatusReplyPolicy
from messaging.models import Message
from messaging.services import insert_rows
from tenants.permissions import Action

log = logging.getLogger(__name__)
BATCH = 200
LEASE = timedelta(minutes=2)
SUCCESS = "RCP0000"
DUE = (StatusReply.State.PENDING, StatusReply.State.FAILED)
_INTERFACE = re.compile(r"(IF|REP)-\d{3}[A-Z]?")


# --- the policy ------------------------------------------------------------------------------


class Policies:
    """The tenant's reply policies, read once for a processing run."""

    def __init__(self, modes: dict[str, str]) -> None:
        self.modes = modes

    @classmethod
    def load(cls) -> Policies:
        return cls(dict(StatusReplyPolicy.objects.values_list("interface_id", "mode")))

    def mode_for(self, interface_id: str) -> str:
        return self.modes.get(interface_id) or self.modes.get("") or ReplyMode.ISSUES_ONLY


def set_reply_policy(*, interface_id: str, mode: str, actor: Any) -> StatusReplyPolicy | None:
    """Set the tenant default (``interface_id`` "") or one interface's override; ``mode``
    "inherit" removes an override. Needs ``configuration.manage``; audited."""
    from participants.services.common import audit, email_of, require_here

    require_here(actor, Action.MANAGE_CONFIGURATION)
    interface_id = (interface_id or "").strip().upper()
    if interface_id and not _INTERFACE.fullmatch(interface_id):
        raise invalid(
            f"{interface_id!r} is not an interface ID (IF-nnn).",
            code="bad_interface",
            field="interface_id",
        )
    valid = set(ReplyMode.values) | ({"inherit"} if interface_id else set())
    if mode not in valid:
        raise invalid(
            f"mode must be one of {', '.join(sorted(valid))}.", code="bad_mode", field="mode"
        )
    with transaction.atomic():
        before = (
            StatusReplyPolicy.objects.filter(interface_id=interface_id)
            .values_list("mode", flat=True)
            .first()
        )
        policy: StatusReplyPolicy | None = None
        if mode == "inherit":
            StatusReplyPolicy.objects.filter(interface_id=interface_id).delete()
        else:
            policy, _ = StatusReplyPolicy.objects.update_or_create(
                interface_id=interface_id,
                defaults={"mode": mode, "updated": timezone.now(), "updated_by": email_of(actor)},
            )
        audit(
            action="status_reply_policy.set",
            actor=actor,
            target_type="messaging_inbound.StatusReplyPolicy",
            target_id=interface_id or "default",
            target_repr=f"status replies for {interface_id or 'every interface'}",
            changes={"mode": [before or "", mode]},
        )
    return policy


def policy_overview() -> dict[str, Any]:
    modes = Policies.load().modes
    return {
        "default": modes.get("") or ReplyMode.ISSUES_ONLY,
        "interfaces": {k: v for k, v in sorted(modes.items()) if k},
    }


# --- the decision, per processed inbound message ---------------------------------------------


def queue_reply(
    message: Message,
    item: StandardResponseBody,
    *,
    code: str,
    policies: Policies | None = None,
    now: datetime | None = None,
) -> StatusReply:
    """Record the status owed for ``message`` (``item`` = the StandardResponse we would send,
    ``code`` its RCP code): an issue is always queued; ``RCP0000`` only under the "all" policy,
    else withheld. Idempotent per message (the first decision stands)."""
    now = now or timezone.now()
    mode = (policies or Policies.load()).mode_for(message.interface_id)
    withheld = code == SUCCESS and mode != ReplyMode.ALL
    reply, created = StatusReply.objects.get_or_create(
        message=message,
        defaults={
            "dip_id": message.dip_id,
            "environment": message.environment,
            "code": code,
            "body": item.to_dict(),
            "mode": mode,
            "state": StatusReply.State.WITHHELD if withheld else StatusReply.State.PENDING,
            "next_attempt_at": now,
            "created": now,
        },
    )
    if created and withheld:  # our L4 response is the decision that none is owed
        metrics.observe_l4_response(_since(message.created, now), interface=message.interface_id)
    return reply


def queue_replies(
    entries: list[tuple[Message, StandardResponseBody, str]],
    *,
    policies: Policies,
    now: datetime,
) -> int:
    """:func:`queue_reply` for a processed batch ((message, item, code) each), in one INSERT;
    a message that already has its reply keeps it (the first decision stands). Returns how
    many are pending (to send)."""
    have = set(
        StatusReply.objects.filter(message_id__in=[m.pk for m, _, _ in entries]).values_list(
            "message_id", flat=True
        )
    )
    entries = [e for e in entries if e[0].pk not in have]
    rows: list[StatusReply] = []
    for message, item, code in entries:
        mode = policies.mode_for(message.interface_id)
        withheld = code == SUCCESS and mode != ReplyMode.ALL
        rows.append(
            StatusReply(
                message=message,
                dip_id=message.dip_id,
                environment=message.environment,
                code=code,
                body=item.to_dict(),
                mode=mode,
                state=StatusReply.State.WITHHELD if withheld else StatusReply.State.PENDING,
                next_attempt_at=now,
                created=now,
            )
        )
    insert_rows(StatusReply, rows, ignore_conflicts=True)
    pending = 0
    for (message, _, _), reply in zip(entries, rows, strict=True):
        if reply.state == StatusReply.State.WITHHELD:
            metrics.observe_l4_response(
                _since(message.created, now), interface=message.interface_id
            )
        else:
            pending += 1
    return pending


def _since(start: datetime | None, now: datetime) -> float:
    return max(0.0, (now - start).total_seconds()) if start else 0.0


# --- sending ---------------------------------------------------------------------------------


def send_due_status_replies(*, limit: int = 2000) -> int:
    """Send due status replies; returns how many were accepted by the DIP."""
    if not settings.INBOUND_SEND_L4_STATUS:
        return 0
    now = timezone.now()
    with transaction.atomic():  # claim: a lease other workers skip, then send outside it
        due = list(
            StatusReply.objects.select_for_update(skip_locked=True)
            .filter(state__in=DUE, next_attempt_at__lte=now)
            .order_by("dip_id", "environment", "id")[:limit]
        )
        StatusReply.objects.filter(pk__in=[r.pk for r in due]).update(next_attempt_at=now + LEASE)
    sent = 0
    for (dip_id, environment), group in groupby(due, key=lambda r: (r.dip_id, r.environment)):
        rows = list(group)
        for start in range(0, len(rows), BATCH):
            sent += _send(dip_id, environment, rows[start : start + BATCH])
    return sent


def _send(dip_id: str, environment: str, rows: list[StatusReply]) -> int:
    now = timezone.now()
    try:
        with client_for(dip_id, environment) as client:
            result = client.submit_status_messages(orjson.dumps([r.body for r in rows]))
        error = "" if result.accepted else f"HTTP {result.status_code}: {result.error or ''}"
        if not result.accepted and result.content:
            error = f"{error} {result.content[:300]!r}"
    except NotConfigured as exc:
        error = f"not configured: {exc}"
    except Exception as exc:  # transport problems: retry later
        error = f"{type(exc).__name__}: {exc}"
    ids = [r.pk for r in rows]
    if not error:
        done = timezone.now()
        StatusReply.objects.filter(pk__in=ids).update(
            state=StatusReply.State.SENT, sent_at=done, last_error=""
        )
        received = Message.objects.filter(pk__in=[r.message_id for r in rows]).values_list(
            "created", "interface_id"
        )
        for created, interface_id in received:
            metrics.observe_l4_response(_since(created, done), interface=interface_id)
        return len(rows)
    log.warning("inbound: L4 status for %s not sent: %s", dip_id, error)
    for r in rows:
        StatusReply.objects.filter(pk=r.pk).update(
            state=StatusReply.State.FAILED,
            attempts=r.attempts + 1,
            next_attempt_at=now + _backoff(r.attempts),
            last_error=error[:500],
        )
    return 0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** min(attempts, 12)))
