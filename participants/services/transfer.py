"""Trade sale / supplier of last resort: DIP IDs move from one tenant to another at a dated
cut-over, with their channels (same webhook URL: the route is re-pointed), nominations (same
DCP ID, re-assigned) and in-flight work (``dip_id_transferred`` signal, for messaging). API
keys do not move: the source's are retired and the target generates its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.services import record
from dcp.errors import invalid
from dcpregistry.models import Transfer
from participants.models import DipId, MpidRole, Nomination
from participants.services.api_keys import retire_all_keys
from participants.services.channels import _create as create_channel
from participants.services.channels import _update as update_channel
from participants.services.nominations import _nominate, _revoke
from participants.signals import dip_id_transferred
from tenants.models import Tenant, User
from tenants.permissions import Action, require

LIVE = (DipId.Status.ACTIVE,)


def schedule_transfer(
    *,
    source: Tenant,
    target: Tenant,
    dip_ids: list[str],
    cutover_at: dt.datetime,
    actor: User,
    kind: str = Transfer.Kind.TRADE_SALE,
    reason: str = "",
) -> Transfer:
    require(actor, Action.MANAGE_TENANTS, None)
    if source.pk == target.pk:
        raise invalid("Source and target must differ.", code="same_tenant", field="target")
    if Tenant.Kind.PLATFORM in (source.kind, target.kind):
        raise invalid("Only client tenants take part in a transfer.", code="not_client")
    if not target.is_active:
        raise invalid(f"{target} is {target.status}.", code="tenant_inactive", field="target")
    values = sorted({v.strip() for v in dip_ids if v.strip()})
    if not values:
        raise invalid("Name the DIP IDs that move.", code="required", field="dip_ids")
    with tenant_context(source):
        found = set(
            DipId.objects.filter(value__in=values, status__in=LIVE).values_list("value", flat=True)
        )
    missing = [v for v in values if v not in found]
    if missing:
        raise invalid(
            f"Not active DIP IDs of {source}: {', '.join(missing)}.",
            code="unknown_dip_id",
            field="dip_ids",
        )
    with transaction.atomic():
        transfer = Transfer.objects.create(
            kind=kind,
            source=source,
            target=target,
            dip_ids=values,
            cutover_at=cutover_at,
            reason=reason.strip(),
            created_by=actor.email,
        )
        _audit_everywhere(transfer, "transfer.scheduled", actor, {"dip_ids": values})
    return transfer


def _audit_everywhere(
    transfer: Transfer, action: str, actor: User | None, changes: dict[str, Any]
) -> None:
    changes = {
        **changes,
        "source": transfer.source.slug,
        "target": transfer.target.slug,
        "cutover_at": transfer.cutover_at.isoformat(),
    }
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        record(action=action, actor=actor, target=transfer, changes=changes, staff_context=True)
    for tenant in (transfer.source, transfer.target):
        with tenant_context(tenant):
            record(action=action, actor=actor, target=transfer, changes=changes, staff_context=True)


def execute_transfer(
    *, transfer: Transfer, actor: User | None, now: dt.datetime | None = None
) -> Transfer:
    """Carry out a scheduled transfer once its cut-over has come. ``actor=None``: the
    scheduled run (the transfer was authorised when it was scheduled)."""
    if actor is not None:
        require(actor, Action.MANAGE_TENANTS, None)
    now = now or timezone.now()
    with transaction.atomic():
        transfer = (
            Transfer.objects.select_for_update()
            .select_related("source", "target")
            .get(pk=transfer.pk)
        )
        if transfer.status != Transfer.Status.SCHEDULED:
            raise invalid(f"This transfer is {transfer.status}.", code="not_scheduled")
        if transfer.cutover_at > now:
            raise invalid(
                f"The cut-over is {transfer.cutover_at:%Y-%m-%d %H:%M}; not yet.",
                code="cutover_not_reached",
            )
        moved = [_move(value, transfer, actor) for value in transfer.dip_ids]
        transfer.status, transfer.executed_at = Transfer.Status.COMPLETED, now
        transfer.executed_by = actor.email if actor else "system"
        transfer.result = {"moved": moved}
        transfer.save()
        _audit_everywhere(transfer, "transfer.completed", actor, {"moved": moved})
    for item in moved:
        for env in item["environments"]:
            dip_id_transferred.send(
                sender=Transfer, transfer_id=transfer.pk, dip_id=item["dip_id"], environment=env
            )
    return transfer


def _move(value: str, transfer: Transfer, actor: User | None) -> dict[str, Any]:
    """Copy what the source has for ``value`` (any environment) into the target, then close
    it in the source."""
    snapshot: list[dict[str, Any]] = []
    with tenant_context(transfer.source):
        for dip in DipId.objects.select_related("mpid_role").filter(value=value, status__in=LIVE):
            nomination = dip.nominations.filter(status=Nomination.Status.ACTIVE).first()
            snapshot.append(
                {
                    "dip": dip,
                    "mpid": dip.mpid,
                    "role_code": dip.role_code,
                    "pre_approved": dip.mpid_role.pre_approved,
                    "environment": dip.environment,
                    "channels": [
                        (c.interface_id, c.obfuscated, c.enabled, c.token)
                        for c in dip.channels.all()
                    ],
                    "nomination": (nomination.dcp_id, nomination.whitelist_domains)
                    if nomination
                    else None,
                }
            )
            if nomination is not None:
                _revoke(
                    nomination=nomination,
                    actor=actor,
                    reason=f"transferred to {transfer.target.slug}",
                )
            for channel in dip.channels.filter(enabled=True):
                update_channel(channel=channel, actor=actor, enabled=False)
            retire_all_keys(dip_id=dip, actor=actor)
            dip.status = DipId.Status.TRANSFERRED
            dip.decision_reason = f"transferred to {transfer.target.slug} (transfer #{transfer.pk})"
            dip.save(update_fields=["status", "decision_reason"])
    with tenant_context(transfer.target):
        for item in snapshot:
            combo, _ = MpidRole.objects.get_or_create(
                mpid=item["mpid"],
                role_code=item["role_code"],
                defaults={
                    "pre_approved": item["pre_approved"],
                    "created_by": f"transfer #{transfer.pk}",
                },
            )
            dip = DipId.objects.create(
                mpid_role=combo,
                environment=item["environment"],
                value=value,
                status=DipId.Status.ACTIVE,
                requested_by=f"transfer #{transfer.pk}",
                decided_by=actor.email if actor else "system",
                decided_at=timezone.now(),
                decision_reason=f"transferred from {transfer.source.slug}",
            )
            for interface_id, obfuscated, enabled, token in item["channels"]:
                create_channel(
                    dip_id=dip,
                    interface_id=interface_id,
                    actor=actor,
                    obfuscated=obfuscated,
                    enabled=enabled,
                    token=token,
                )
            if item["nomination"]:
                dcp_id, whitelist = item["nomination"]
                _nominate(dip_id=dip, dcp_id=dcp_id, whitelist_domains=whitelist, actor=actor)
    return {"dip_id": value, "environments": [i["environment"] for i in snapshot]}


def execute_due_transfers(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    due = Transfer.objects.filter(status=Transfer.Status.SCHEDULED, cutover_at__lte=now)
    count = 0
    for transfer in due:
        execute_transfer(transfer=transfer, actor=None, now=now)
        count += 1
    return count
