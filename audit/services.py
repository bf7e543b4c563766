"""Writing to the audit chain. ``record()`` is the only way rows are created."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone

from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from dcp.middleware import current_request_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from tenants.models import User

HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_kind",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "summary",
    "changes",
    "request_id",
    "ip",
    "prev_hash",
)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def compute_hash(fields: dict[str, Any]) -> str:
    doc = {name: fields[name] for name in HASHED_FIELDS}
    occurred = doc["occurred_at"]
    if isinstance(occurred, datetime):
        doc["occurred_at"] = occurred.astimezone(UTC).isoformat(timespec="microseconds")
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def row_fields(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in HASHED_FIELDS}


@dataclass(frozen=True)
class Actor:
    id: int | None
    email: str
    kind: str

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(None, name, "system")


def actor_of(user: User | Actor | AnonymousUser | None, *, staff_context: bool = False) -> Actor:
    if user is None:
        return Actor.system()
    if isinstance(user, Actor):
        return user
    if not user.is_authenticated:
        return Actor(None, "anonymous", "anonymous")
    kind = "staff" if (staff_context and user.staff_role) else "user"
    return Actor(user.pk, user.email, kind)


def record(
    *,
    action: str,
    actor: User | Actor | AnonymousUser | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    summary: str = "",
    changes: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    ip: str | None = None,
    staff_context: bool = False,
) -> AuditEvent:
    """Append one event to the chain of the current schema (public or the active tenant).

    Call inside the caller's transaction so the event commits (or rolls back) with the change
    it describes. Appends are serialised by a row lock on the chain head."""
    who = actor_of(actor, staff_context=staff_context)
    if target is not None:
        target_type = target_type or target._meta.label
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:300]
    if request is not None and ip is None:
        ip = request.META.get("REMOTE_ADDR") or None
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        fields: dict[str, Any] = {
            "seq": head.seq + 1,
            "occurred_at": timezone.now(),
            "actor_id": who.id,
            "actor_email": who.email,
            "actor_kind": who.kind,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "target_repr": target_repr,
            "summary": summary[:500],
            "changes": _jsonable(changes or {}),
            "request_id": current_request_id() if current_request_id() != "-" else "",
            "ip": ip,
            "prev_hash": head.hash or GENESIS_HASH,
        }
        fields["hash"] = compute_hash(fields)
        event = AuditEvent.objects.create(**fields)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event
