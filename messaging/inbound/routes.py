"""The inbound route table: webhook token → tenant + channel, cached in process memory.

Resolved from the public-schema ``dcpregistry.ChannelRoute`` (plus the channel row in the
tenant schema, for its DIP ID and interface) before any schema is selected. Entries live for
``INBOUND_ROUTE_TTL`` seconds; any save of a route, channel or tenant bumps a version number in
the shared Django cache, which every process checks at most once a second, so a disabled
channel or suspended tenant takes effect everywhere within about a second. Unknown tokens are
never cached (a new channel works at once); the webhook rate-limits them per client address
(``messaging.inbound.webhook_limits``) before asking :meth:`RouteTable.resolve`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models.signals import post_delete, post_save

from tenants.models import Tenant

_VERSION_KEY = "inbound:routes:version"

_db: Any = connection  # django-tenants' schema-switching wrapper


@dataclass(frozen=True, slots=True)
class Route:
    token: str
    tenant: Tenant
    channel_id: int
    enabled: bool  # route and channel both enabled
    interface_id: str
    dip_id: str  # our client's DIP ID (the recipient)
    environment: str

    @property
    def tenant_active(self) -> bool:
        return self.tenant.status == Tenant.Status.ACTIVE


class RouteTable:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Route]] = {}
        self._lock = threading.Lock()
        self._version: Any = None
        self._version_checked = 0.0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _check_version(self, now: float) -> None:
        if now - self._version_checked < 1.0:
            return
        self._version_checked = now
        try:
            version = cache.get(_VERSION_KEY)
        except Exception:  # cache down: fall back to the TTL alone
            return
        if version != self._version:
            self._version = version
            self.clear()

    def cached(self, token: str) -> Route | None:
        """The route if this process holds it (no database work), else None."""
        now = time.monotonic()
        self._check_version(now)
        hit = self._entries.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        return None

    def resolve(self, token: str) -> Route | None:
        route = self.cached(token)
        if route is not None:
            return route
        now = time.monotonic()
        route = _load(token)
        if route is not None:
            with self._lock:
                self._entries[token] = (now + settings.INBOUND_ROUTE_TTL, route)
        return route


def _load(token: str) -> Route | None:
    from dcpregistry.models import ChannelRoute
    from participants.models import Channel

    if not token or len(token) > 64:
        return None
    _db.set_schema_to_public()
    row = ChannelRoute.objects.select_related("tenant").filter(token=token).first()
    if row is None:
        return None
    _db.set_tenant(row.tenant)
    try:
        channel = (
            Channel.objects.select_related("dip_id").filter(pk=row.channel_id, token=token).first()
        )
    finally:
        _db.set_schema_to_public()
    if channel is None:
        return None
    return Route(
        token=token,
        tenant=row.tenant,
        channel_id=channel.pk,
        enabled=row.enabled and channel.enabled,
        interface_id=channel.interface_id,
        dip_id=channel.dip_id.value,
        environment=channel.environment,
    )


table = RouteTable()


def invalidate(**_: Any) -> None:
    """Drop cached routes here and (through the shared version key) in every process."""
    table.clear()
    with contextlib.suppress(Exception):  # cache down: other processes fall back to the TTL
        if not cache.add(_VERSION_KEY, 1, timeout=None):
            cache.incr(_VERSION_KEY)


def connect_signals() -> None:
    from dcpregistry.models import ChannelRoute
    from participants.models import Channel

    for model in (ChannelRoute, Channel, Tenant):
        post_save.connect(invalidate, sender=model, dispatch_uid=f"inbound-routes-{model.__name__}")
        post_delete.connect(
            invalidate, sender=model, dispatch_uid=f"inbound-routes-del-{model.__name__}"
        )
