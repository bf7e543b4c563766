"""Messages held because the DIP answered with a code we do not know (``outcome._hold``):
neither resent nor rejected until an operator decides."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import record as audit
from messaging.outbound.models import OutboxEntry


def release_held(*, message_ids: list[int], actor: Any) -> int:
    """An operator sends held messages again (after checking the unknown code)."""
    with transaction.atomic():
        n = OutboxEntry.objects.filter(
            message_id__in=message_ids, pending=True, held_at__isnull=False
        ).update(held_at=None, due_at=timezone.now(), solo=True)
        if n:
            audit(
                action="outbound.release_held",
                actor=actor,
                target_type="messaging.Message",
                target_id=",".join(str(i) for i in message_ids)[:200],
                summary=f"{n} held outbound message(s) released to be sent again",
            )
    return n
