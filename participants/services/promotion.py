"""Promote to production: a certified UIT configuration (DIP IDs, channels, nominations,
interface selections; never keys or certificates) is proposed as a change set with a diff,
reviewed, and applied by DCP staff — four eyes: one staff member approves it, another applies
it (``four_eyes`` refusal otherwise)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from dcp.errors import invalid
from dcpregistry.selectors import available_dcp_ids
from participants import selectors
from participants.models import DipId, PromotionChangeSet
from participants.services.channels import _create as create_channel
from participants.services.common import audit, require_here
from participants.services.nominations import _nominate
from tenants import permissions
from tenants.models import User
from tenants.permissions import Action


def build_diff() -> dict[str, Any]:
    """What PRD would gain: one entry per active UIT DIP ID, marking what already exists."""
    entries = []
    for uit in selectors.dip_ids().filter(environment="UIT", status=DipId.Status.ACTIVE):
        prd = (
            selectors.dip_ids()
            .filter(mpid_role=uit.mpid_role, environment="PRD", status=DipId.Status.ACTIVE)
            .first()
        )
        prd_channels = set(prd.channels.values_list("interface_id", flat=True)) if prd else set()
        nomination = selectors.active_nomination(uit)
        prd_nomination = selectors.active_nomination(prd) if prd else None
        entries.append(
            {
                "mpid": uit.mpid,
                "role_code": uit.role_code,
                "dip_id": uit.value,
                "dip_id_action": "exists" if prd else "create",
                "channels": [
                    {
                        "interface_id": c.interface_id,
                        "obfuscated": c.obfuscated,
                        "action": "exists" if c.interface_id in prd_channels else "create",
                    }
                    for c in uit.channels.filter(enabled=True)
                ],
                "nomination": None
                if nomination is None
                else {
                    "whitelist_domains": nomination.whitelist_domains,
                    "action": "exists" if prd_nomination else "assign a free PRD DCP ID",
                },
                "selections": [
                    s.interface_id for s in selectors.extended_selections(uit) if s.enabled
                ],
            }
        )
    return {"from": "UIT", "to": "PRD", "dip_ids": entries}


def propose_promotion(*, actor: User) -> PromotionChangeSet:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    gaps = selectors.certification_gaps("UIT")
    if gaps:
        raise invalid(
            "The UIT configuration is not certified: " + "; ".join(gaps), code="not_certified"
        )
    diff = build_diff()
    needed = sum(
        1 for e in diff["dip_ids"] if e["nomination"] and e["nomination"]["action"] != "exists"
    )
    if needed > available_dcp_ids("PRD").count():
        raise invalid(
            f"{needed} PRD DCP ID(s) needed, fewer are free: ask DCP staff to create more.",
            code="no_dcp_id_available",
        )
    with transaction.atomic():
        if PromotionChangeSet.objects.filter(status=PromotionChangeSet.Status.PROPOSED).exists():
            raise invalid("A promotion is already waiting for review.", code="already_proposed")
        change_set = PromotionChangeSet.objects.create(diff=diff, created_by=actor.email)
        audit(action="promotion.proposed", actor=actor, target=change_set, public_too=True)
    return change_set


def _same_person(a: str, b: str) -> bool:
    return bool(a) and a.strip().lower() == b.strip().lower()


def approve_promotion(*, change_set: PromotionChangeSet, actor: User) -> PromotionChangeSet:
    """The first pair of eyes: a DCP staff member approves the change set; another applies it."""
    permissions.require(actor, Action.APPROVE_REQUESTS, None)
    with transaction.atomic():
        change_set = PromotionChangeSet.objects.select_for_update().get(pk=change_set.pk)
        if change_set.status != PromotionChangeSet.Status.PROPOSED:
            raise invalid(f"This change set is {change_set.status}.", code="not_pending")
        if change_set.approved_by:
            raise invalid(
                f"Already approved by {change_set.approved_by}: another DCP staff member "
                "applies it.",
                code="already_approved",
            )
        change_set.approved_by, change_set.approved_at = actor.email, timezone.now()
        change_set.save(update_fields=["approved_by", "approved_at"])
        audit(action="promotion.approved", actor=actor, target=change_set, public_too=True)
    return change_set


def apply_promotion(*, change_set: PromotionChangeSet, actor: User) -> PromotionChangeSet:
    permissions.require(actor, Action.APPROVE_REQUESTS, None)
    with transaction.atomic():
        change_set = PromotionChangeSet.objects.select_for_update().get(pk=change_set.pk)
        if change_set.status != PromotionChangeSet.Status.PROPOSED:
            raise invalid(f"This change set is {change_set.status}.", code="not_pending")
        if not change_set.approved_by:
            raise invalid(
                "Four eyes: another DCP staff member must approve this change set first.",
                code="four_eyes",
            )
        if _same_person(change_set.approved_by, actor.email):
            raise invalid(
                "Four eyes: you approved this change set; another DCP staff member applies it.",
                code="four_eyes",
            )
        gaps = selectors.certification_gaps("UIT")
        if gaps:
            raise invalid("No longer certified: " + "; ".join(gaps), code="not_certified")
        applied = []
        for uit in selectors.dip_ids().filter(environment="UIT", status=DipId.Status.ACTIVE):
            applied.append(_promote_one(uit, actor))
        change_set.status = PromotionChangeSet.Status.APPLIED
        change_set.decided_by, change_set.decided_at = actor.email, timezone.now()
        change_set.save()
        audit(
            action="promotion.applied",
            actor=actor,
            target=change_set,
            public_too=True,
            changes={"applied": applied, "approved_by": change_set.approved_by},
        )
    return change_set


def _promote_one(uit: DipId, actor: User) -> dict[str, Any]:
    prd = DipId.objects.filter(
        mpid_role=uit.mpid_role, environment="PRD", status=DipId.Status.ACTIVE
    ).first()
    if prd is None:
        prd = DipId.objects.create(
            mpid_role=uit.mpid_role,
            environment="PRD",
            value=uit.value,
            status=DipId.Status.ACTIVE,
            requested_by=actor.email,
            decided_by=actor.email,
            decided_at=timezone.now(),
            decision_reason="promoted from UIT",
        )
    existing = set(prd.channels.values_list("interface_id", flat=True))
    for channel in uit.channels.filter(enabled=True).exclude(interface_id__in=existing):
        create_channel(
            dip_id=prd,
            interface_id=channel.interface_id,
            actor=actor,
            obfuscated=channel.obfuscated,
        )
    for selection in selectors.extended_selections(uit):
        prd.selections.update_or_create(
            interface_id=selection.interface_id,
            defaults={"enabled": selection.enabled, "updated_by": actor.email},
        )
    nomination = selectors.active_nomination(uit)
    dcp_id = None
    if nomination is not None and selectors.active_nomination(prd) is None:
        free = available_dcp_ids("PRD").first()
        if free is None:
            raise invalid("No free PRD DCP ID to assign.", code="no_dcp_id_available")
        dcp_id = _nominate(
            dip_id=prd,
            dcp_id=free.value,
            whitelist_domains=nomination.whitelist_domains,
            actor=actor,
        ).dcp_id
    return {"dip_id": prd.value, "dcp_id": dcp_id}


def reject_promotion(
    *, change_set: PromotionChangeSet, actor: User, reason: str
) -> PromotionChangeSet:
    permissions.require(actor, Action.APPROVE_REQUESTS, None)
    if not reason.strip():
        raise invalid("Give the reason.", code="required", field="reason")
    with transaction.atomic():
        change_set = PromotionChangeSet.objects.select_for_update().get(pk=change_set.pk)
        if change_set.status != PromotionChangeSet.Status.PROPOSED:
            raise invalid(f"This change set is {change_set.status}.", code="not_pending")
        change_set.status = PromotionChangeSet.Status.REJECTED
        change_set.decided_by, change_set.decided_at = actor.email, timezone.now()
        change_set.reason = reason.strip()
        change_set.save()
        audit(action="promotion.rejected", actor=actor, target=change_set, public_too=True)
    return change_set
