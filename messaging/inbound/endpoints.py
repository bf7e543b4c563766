"""Client endpoints: create, update, rotate the signing secret, pause, resume, replay.

Writes need ``configuration.manage``; every change is audited. Secrets are sealed with
``dcp.vault`` and shown once (at creation and rotation); afterwards only a fingerprint. A
rotation keeps the previous secret signing too for ``PUSH_SECRET_OVERLAP_HOURS`` (both
signatures in ``webhook-signature``) so the client can switch without dropping a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import record
from dcp import vault
from dcp.errors import invalid
from dcp.net import outbound
from messaging.inbound.models import ClientEndpoint, EndpointDelivery
from messaging.inbound.push import new_secret, secret_context
from messaging.models import FeedEvent
from participants.services.common import audit, email_of, require_here
from tenants.models import User
from tenants.permissions import Action

DIRECTIONS = ("inbound", "outbound")


@dataclass(frozen=True)
class WithSecret:
    endpoint: ClientEndpoint
    secret: str  # shown once


def _clean(
    url: str, interfaces: list[str] | None, directions: list[str] | None
) -> tuple[str, list[str], list[str]]:
    url = outbound.check_url(url or "", field="url")  # SSRF guard: public addresses only
    ifaces = sorted({i.strip().upper() for i in interfaces or [] if i.strip()})
    dirs = sorted({d.strip().lower() for d in directions or [] if d.strip()})
    if set(dirs) - set(DIRECTIONS):
        raise invalid(
            "Directions are inbound and/or outbound.", code="bad_direction", field="directions"
        )
    return url, ifaces, dirs


def _max_seq() -> int:
    top = FeedEvent.objects.exclude(seq=None).order_by("-seq").values_list("seq", flat=True).first()
    return int(top or 0)


def create_endpoint(
    *,
    name: str,
    url: str,
    actor: User,
    interfaces: list[str] | None = None,
    directions: list[str] | None = None,
    from_seq: int | None = None,
) -> WithSecret:
    """A new endpoint receives events after the current end of the feed (or from
    ``from_seq``)."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    url, ifaces, dirs = _clean(url, interfaces, directions)
    secret = new_secret()
    with transaction.atomic():
        endpoint = ClientEndpoint.objects.create(
            name=(name or "").strip()[:100] or url[:100],
            url=url,
            interfaces=ifaces,
            directions=dirs,
            secret_sealed="-",
            secret_fingerprint=vault.fingerprint(secret),
            enqueued_through=_max_seq() if from_seq is None else max(0, from_seq),
            created_by=email_of(actor),
        )
        endpoint.secret_sealed = vault.seal(secret, context=secret_context(endpoint.pk))
        endpoint.save(update_fields=["secret_sealed"])
        audit(
            action="client_endpoint.created",
            actor=actor,
            target=endpoint,
            changes={"url": url, "interfaces": ifaces, "directions": dirs},
        )
    return WithSecret(endpoint, secret)


def update_endpoint(
    *,
    endpoint: ClientEndpoint,
    actor: User,
    name: str | None = None,
    url: str | None = None,
    interfaces: list[str] | None = None,
    directions: list[str] | None = None,
) -> ClientEndpoint:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    new_url, ifaces, dirs = _clean(
        url if url is not None else endpoint.url,
        interfaces if interfaces is not None else endpoint.interfaces,
        directions if directions is not None else endpoint.directions,
    )
    changes: dict[str, Any] = {}
    for field, value in (("url", new_url), ("interfaces", ifaces), ("directions", dirs)):
        if getattr(endpoint, field) != value:
            changes[field] = [getattr(endpoint, field), value]
            setattr(endpoint, field, value)
    if name is not None and name.strip() and name.strip() != endpoint.name:
        changes["name"] = [endpoint.name, name.strip()[:100]]
        endpoint.name = name.strip()[:100]
    if changes:
        with transaction.atomic():
            endpoint.save()
            audit(action="client_endpoint.updated", actor=actor, target=endpoint, changes=changes)
    return endpoint


def rotate_secret(*, endpoint: ClientEndpoint, actor: User) -> WithSecret:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    secret = new_secret()
    now = timezone.now()
    with transaction.atomic():
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_until = now + timedelta(hours=settings.PUSH_SECRET_OVERLAP_HOURS)
        endpoint.secret_sealed = vault.seal(secret, context=secret_context(endpoint.pk))
        old_fp, endpoint.secret_fingerprint = endpoint.secret_fingerprint, vault.fingerprint(secret)
        endpoint.save()
        audit(
            action="client_endpoint.secret_rotated",
            actor=actor,
            target=endpoint,
            changes={
                "fingerprint": [old_fp, endpoint.secret_fingerprint],
                "previous_valid_until": endpoint.previous_secret_until.isoformat(),
            },
        )
    return WithSecret(endpoint, secret)


def pause_endpoint(*, endpoint: ClientEndpoint, actor: User, reason: str = "") -> ClientEndpoint:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    with transaction.atomic():
        endpoint.state, endpoint.paused_at = ClientEndpoint.State.PAUSED, timezone.now()
        endpoint.pause_reason = (reason or "paused by an administrator")[:300]
        endpoint.save(update_fields=["state", "paused_at", "pause_reason"])
        audit(action="client_endpoint.paused", actor=actor, target=endpoint, summary=reason)
    return endpoint


def pause_for_failures(endpoint: ClientEndpoint, *, now: datetime) -> None:
    """Automatic pause after failing for PUSH_PAUSE_AFTER_HOURS: alert, keep every event."""
    import logging

    reason = (
        f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} "
        f"({endpoint.consecutive_failures} attempts): {endpoint.last_error}"
    )[:300]
    ClientEndpoint.objects.filter(pk=endpoint.pk).update(
        state=ClientEndpoint.State.PAUSED, paused_at=now, pause_reason=reason
    )
    endpoint.state, endpoint.paused_at, endpoint.pause_reason = "paused", now, reason
    pending = EndpointDelivery.objects.filter(endpoint=endpoint, state="pending").count()
    logging.getLogger(__name__).error(
        "ALERT client endpoint %s (%s) paused: %s; %d events wait for resume",
        endpoint.name,
        endpoint.url,
        reason,
        pending,
    )
    record(
        action="client_endpoint.paused",
        target=endpoint,
        summary=f"Paused automatically: {reason}; {pending} events waiting",
    )


def resume_endpoint(*, endpoint: ClientEndpoint, actor: User) -> ClientEndpoint:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    now = timezone.now()
    with transaction.atomic():
        endpoint.state, endpoint.paused_at, endpoint.pause_reason = "active", None, ""
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        endpoint.save()
        EndpointDelivery.objects.filter(endpoint=endpoint, state="pending").update(
            next_attempt_at=now
        )
        audit(action="client_endpoint.resumed", actor=actor, target=endpoint)
        transaction.on_commit(lambda: _nudge(endpoint.pk), robust=True)
    return endpoint


def replay_endpoint(*, endpoint: ClientEndpoint, actor: User, from_seq: int) -> int:
    """Deliver again every matching event with ``seq >= from_seq`` (same webhook-id: the
    client can recognise what it already has)."""
    from messaging.inbound.push import _matches

    require_here(actor, Action.MANAGE_CONFIGURATION)
    now = timezone.now()
    with transaction.atomic():
        events = FeedEvent.objects.filter(seq__gte=from_seq, seq__lte=endpoint.enqueued_through)
        EndpointDelivery.objects.bulk_create(
            [
                EndpointDelivery(
                    endpoint=endpoint,
                    event=e,
                    seq=e.seq or 0,
                    mpan_core=e.mpan_core,
                    next_attempt_at=now,
                )
                for e in events.only("id", "seq", "mpan_core", "interface_id", "payload")
                if _matches(endpoint, e)
            ],
            ignore_conflicts=True,
        )
        count = EndpointDelivery.objects.filter(endpoint=endpoint, seq__gte=from_seq).update(
            state="pending", next_attempt_at=now
        )
        audit(
            action="client_endpoint.replayed",
            actor=actor,
            target=endpoint,
            changes={"from_seq": from_seq, "events": count},
        )
        transaction.on_commit(lambda: _nudge(endpoint.pk), robust=True)
    return count


def _nudge(endpoint_id: int) -> None:
    from messaging.inbound.tasks import push_endpoint

    push_endpoint.delay(endpoint_id)
