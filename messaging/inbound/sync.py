"""Register our channels' webhook URLs with the DIP (PROTOCOL.md §4.1 pubconfig).

For every enabled channel of a tenant: ``POST /dip-channel/{IF}/pubconfig/{dipId}`` with the
channel's URL (``DIP_WEBHOOK_BASE_URL`` + ``/dip/inbound/<token>/``), or, for the ``STATUS``
pseudo-interface, ``POST /statusmessage/config/{dipId}``. Used by ``manage.py
sync_channels_to_dip``, the demo (``make run``), tests and real deployments.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import tenant_context

from dip.signing import SigningIdentity
from messaging.inbound.dipconn import NotConfigured, client_for
from messaging.inbound.webhook import external_url
from participants.models import Channel
from tenants.models import Tenant


@dataclass(frozen=True)
class Registered:
    tenant: str
    dip_id: str
    interface_id: str
    url: str
    ok: bool
    detail: str = ""


def sync_channels(*, identity: SigningIdentity | None = None) -> list[Registered]:
    """Register every enabled channel of the current tenant; returns one row per channel."""
    from dcp.db import current_schema

    out: list[Registered] = []
    channels = (
        Channel.objects.select_related("dip_id")
        .filter(enabled=True)
        .order_by("dip_id__value", "interface_id")
    )
    for ch in channels:
        dip_id, url = ch.dip_id.value, external_url(ch.token)
        try:
            with client_for(dip_id, ch.environment, identity=identity) as dip:
                if ch.interface_id == Channel.STATUS_MESSAGES:
                    result = dip.register_status_webhook(dip_id, url)
                else:
                    result = dip.register_webhook(ch.interface_id, dip_id, url)
            ok = result.accepted
            detail = "" if ok else f"HTTP {result.status_code} {result.content[:200]!r}"
        except NotConfigured as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # DIP unreachable: report, carry on with the others
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        out.append(Registered(current_schema(), dip_id, ch.interface_id, url, ok, detail))
    return out


def sync_all(
    *, slug: str | None = None, identity: SigningIdentity | None = None
) -> list[Registered]:
    tenants = Tenant.objects.filter(kind=Tenant.Kind.CLIENT, status=Tenant.Status.ACTIVE)
    if slug:
        tenants = tenants.filter(slug=slug)
    out: list[Registered] = []
    for tenant in tenants:
        with tenant_context(tenant):
            out.extend(sync_channels(identity=identity))
    return out
