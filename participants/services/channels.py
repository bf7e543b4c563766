"""Message channels: per DIP ID and interface, the webhook URL the DIP delivers to. The URL
is our inbound endpoint with an unguessable per-channel token; the public ChannelRoute table
maps the token to the tenant and channel before any schema is selected."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction

from dcp.errors import invalid
from dcpregistry.models import ChannelRoute
from dip.catalogue import load_catalogue
from participants.models import Channel, DipId
from participants.services.common import audit, current_tenant, email_of, require_here
from tenants.models import User, build_url
from tenants.permissions import Action

# Served on the platform host by the inbound webhook (a later issue resolves the token there).
INBOUND_PATH = "/dip/inbound/{token}/"


def webhook_url(channel: Channel) -> str:
    return build_url(settings.BASE_DOMAIN, INBOUND_PATH.format(token=channel.token))


def validate_interface_for(dip_id: DipId, interface_id: str) -> str:
    interface_id = (interface_id or "").strip().upper()
    if interface_id == Channel.STATUS_MESSAGES:
        return interface_id
    interface = load_catalogue().get(interface_id)
    if interface is None:
        raise invalid(
            f"Unknown interface {interface_id!r} (use IF-nnn, REP-nnn or STATUS).",
            code="unknown_interface",
            field="interface_id",
        )
    role = dip_id.mpid_role.role_code
    if role not in interface.recipient_roles:
        raise invalid(
            f"{interface_id} is delivered to {', '.join(interface.recipient_roles)}, not {role}.",
            code="role_not_recipient",
            field="interface_id",
        )
    return interface_id


def configure_channel(
    *, dip_id: DipId, interface_id: str, actor: User, obfuscated: bool = False
) -> Channel:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    return _create(dip_id=dip_id, interface_id=interface_id, actor=actor, obfuscated=obfuscated)


def _create(
    *,
    dip_id: DipId,
    interface_id: str,
    actor: User | None,
    obfuscated: bool,
    enabled: bool = True,
    token: str = "",
) -> Channel:
    if dip_id.status != DipId.Status.ACTIVE:
        raise invalid(f"DIP ID is {dip_id.status}.", code="dip_id_inactive", field="dip_id")
    interface_id = validate_interface_for(dip_id, interface_id)
    if Channel.objects.filter(dip_id=dip_id, interface_id=interface_id).exists():
        raise invalid(
            f"{interface_id} is already configured for {dip_id.value}.",
            code="duplicate",
            field="interface_id",
        )
    with transaction.atomic():
        channel = Channel.objects.create(
            dip_id=dip_id,
            environment=dip_id.environment,
            interface_id=interface_id,
            token=token or secrets.token_urlsafe(32),
            obfuscated=obfuscated,
            enabled=enabled,
            created_by=email_of(actor),
        )
        if token:  # a transfer keeps the URL registered in the DIP portal
            ChannelRoute.objects.filter(token=token).update(
                tenant=current_tenant(), channel_id=channel.pk, enabled=enabled
            )
        else:
            ChannelRoute.objects.create(
                token=channel.token, tenant=current_tenant(), channel_id=channel.pk, enabled=enabled
            )
        audit(
            action="channel.configured",
            actor=actor,
            target=channel,
            changes={
                "dip_id": dip_id.value,
                "interface_id": interface_id,
                "obfuscated": obfuscated,
                "environment": dip_id.environment,
            },
        )
    return channel


def update_channel(
    *, channel: Channel, actor: User, enabled: bool | None = None, obfuscated: bool | None = None
) -> Channel:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    return _update(channel=channel, actor=actor, enabled=enabled, obfuscated=obfuscated)


def _update(
    *,
    channel: Channel,
    actor: User | None,
    enabled: bool | None = None,
    obfuscated: bool | None = None,
) -> Channel:
    changes: dict[str, list[bool]] = {}
    if enabled is not None and enabled != channel.enabled:
        changes["enabled"] = [channel.enabled, enabled]
        channel.enabled = enabled
    if obfuscated is not None and obfuscated != channel.obfuscated:
        changes["obfuscated"] = [channel.obfuscated, obfuscated]
        channel.obfuscated = obfuscated
    if not changes:
        return channel
    with transaction.atomic():
        channel.save(update_fields=["enabled", "obfuscated", "updated"])
        ChannelRoute.objects.filter(tenant=current_tenant(), channel_id=channel.pk).update(
            enabled=channel.enabled
        )
        audit(action="channel.updated", actor=actor, target=channel, changes=changes)
    return channel


REGISTER_COLUMNS = ("dip_id", "environment", "interface_id", "webhook_url", "obfuscated", "enabled")


def registration_rows(channels: list[Channel]) -> list[dict[str, str]]:
    """What the client registers in the DIP portal (pubconfig per interface and DIP ID)."""
    return [
        {
            "dip_id": c.dip_id.value,
            "environment": c.environment,
            "interface_id": c.interface_id,
            "webhook_url": webhook_url(c),
            "obfuscated": "yes" if c.obfuscated else "no",
            "enabled": "yes" if c.enabled else "no",
        }
        for c in channels
    ]
