"""Offboarding: revoke nominations, disable channels, retire keys, keep records for the
retention period, and produce the final evidence export (configuration + audit segment)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from dcp.errors import invalid
from participants.models import (
    ApiKey,
    CertificationItem,
    Channel,
    ChecklistItem,
    DipId,
    InterfaceSelection,
    MpidRole,
    Nomination,
    OffboardingRecord,
    OrganisationProfile,
    PromotionChangeSet,
    SdsMdrPairing,
)
from participants.services.api_keys import retire_all_keys
from participants.services.channels import _update as update_channel
from participants.services.channels import webhook_url
from participants.services.common import audit
from participants.services.nominations import _revoke
from tenants import services as tenant_services
from tenants.models import Tenant, User
from tenants.permissions import Action, require

DEFAULT_RETENTION_DAYS = 7 * 365  # BSC/REC records: keep seven years unless configured


def _rows(qs: Any, *fields: str) -> list[dict[str, Any]]:
    return [
        {
            k: (str(v) if v is not None and not isinstance(v, bool | int) else v)
            for k, v in row.items()
        }
        for row in qs.values(*fields)
    ]


def export_configuration(*, tenant: Tenant, actor: User) -> dict[str, Any]:
    """The tenant's onboarding configuration and its audit segment as JSON-ready data.
    Secrets never appear: API keys are listed by fingerprint."""
    require(actor, Action.VIEW_PLATFORM, None)
    with tenant_context(tenant):
        body = {
            "tenant": {"slug": tenant.slug, "name": tenant.name, "status": tenant.status},
            "exported_at": timezone.now().isoformat(),
            "profile": _rows(
                OrganisationProfile.objects.all(),
                "company_name",
                "company_number",
                "contact_email",
                "domains",
            ),
            "checklist": _rows(
                ChecklistItem.objects.all(),
                "environment",
                "step",
                "status",
                "owner",
                "due_date",
                "completed_at",
            ),
            "mpid_roles": _rows(MpidRole.objects.all(), "mpid", "role_code", "pre_approved"),
            "dip_ids": _rows(
                DipId.objects.all(),
                "value",
                "environment",
                "status",
                "mpid_role__mpid",
                "mpid_role__role_code",
                "decided_by",
            ),
            "nominations": _rows(
                Nomination.objects.all(),
                "dip_id__value",
                "dcp_id",
                "environment",
                "whitelist_domains",
                "status",
                "created",
                "revoked_at",
            ),
            "api_keys": _rows(
                ApiKey.objects.all(),
                "dip_id__value",
                "environment",
                "slot",
                "state",
                "fingerprint",
                "created_by",
                "last_used_at",
                "retired_at",
            ),
            "channels": [
                {
                    "dip_id": c.dip_id.value,
                    "environment": c.environment,
                    "interface_id": c.interface_id,
                    "webhook_url": webhook_url(c),
                    "obfuscated": c.obfuscated,
                    "enabled": c.enabled,
                }
                for c in Channel.objects.select_related("dip_id")
            ],
            "pairings": _rows(
                SdsMdrPairing.objects.all(),
                "dip_id__value",
                "partner_name",
                "partner_mpid",
                "partner_dip_id",
            ),
            "selections": _rows(
                InterfaceSelection.objects.all(), "dip_id__value", "interface_id", "enabled"
            ),
            "certifications": _rows(
                CertificationItem.objects.all(),
                "dip_id__value",
                "kind",
                "interface_id",
                "status",
                "reused_from",
            ),
            "promotions": _rows(
                PromotionChangeSet.objects.all(), "status", "created", "decided_by"
            ),
            "offboarding": _rows(
                OffboardingRecord.objects.all(), "started_at", "retain_until", "reason"
            ),
            "audit": _rows(
                AuditEvent.objects.order_by("seq"),
                "seq",
                "occurred_at",
                "actor_email",
                "actor_kind",
                "action",
                "target_type",
                "target_id",
                "summary",
                "prev_hash",
                "hash",
            ),
        }
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return {"export": body, "sha256": hashlib.sha256(canonical).hexdigest()}


def offboard_tenant(
    *, tenant: Tenant, actor: User, reason: str, retention_days: int | None = None
) -> OffboardingRecord:
    require(actor, Action.MANAGE_TENANTS, None)
    if tenant.is_platform or tenant.kind != Tenant.Kind.CLIENT:
        raise invalid("Only a client tenant can be offboarded.", code="not_client")
    if not reason.strip():
        raise invalid("Give a reason.", code="required", field="reason")
    if tenant.status in (Tenant.Status.OFFBOARDING, Tenant.Status.OFFBOARDED):
        raise invalid(f"{tenant} is already {tenant.status}.", code="already_offboarding")
    configured: int = getattr(settings, "DCP_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    days = retention_days or configured
    with transaction.atomic():
        with tenant_context(tenant):
            revoked = 0
            for nomination in Nomination.objects.filter(status=Nomination.Status.ACTIVE):
                _revoke(nomination=nomination, actor=actor, reason="offboarding")
                revoked += 1
            disabled = 0
            for channel in Channel.objects.filter(enabled=True):
                update_channel(channel=channel, actor=actor, enabled=False)
                disabled += 1
            retired = sum(retire_all_keys(dip_id=d, actor=actor) for d in DipId.objects.all())
            summary = {
                "nominations_revoked": revoked,
                "channels_disabled": disabled,
                "keys_retired": retired,
            }
            offboarding = OffboardingRecord.objects.create(
                started_by=actor.email,
                reason=reason.strip(),
                retain_until=timezone.now().date() + dt.timedelta(days=days),
                summary=summary,
            )
            audit(action="tenant.offboarding", actor=actor, target=offboarding, changes=summary)
        export = export_configuration(tenant=tenant, actor=actor)
        with tenant_context(tenant):
            offboarding.export_sha256 = export["sha256"]
            offboarding.save(update_fields=["export_sha256"])
        tenant_services.set_tenant_status(
            tenant=tenant, status=Tenant.Status.OFFBOARDING, reason=reason, actor=actor
        )
    return offboarding
