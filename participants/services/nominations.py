"""Nominating our DCP ID for a client DIP ID, and revoking it. The tenant keeps the history
(Nomination rows); the public DcpIdAssignment makes "one DCP ID, one DIP ID" hold across
tenants with a database constraint."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from dcp.errors import invalid
from dcpregistry.models import DcpId, DcpIdAssignment, DcpStatus
from dip.identifiers import check_dip_id
from participants.models import DipId, Nomination
from participants.services.common import audit, current_tenant, email_of, require_here
from tenants.models import User
from tenants.permissions import Action


def nominate_dcp(*, dip_id: DipId, dcp_id: str, whitelist_domains: bool, actor: User) -> Nomination:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    return _nominate(dip_id=dip_id, dcp_id=dcp_id, whitelist_domains=whitelist_domains, actor=actor)


def _nominate(
    *, dip_id: DipId, dcp_id: str, whitelist_domains: bool, actor: User | None
) -> Nomination:
    """The rules and the write, without the permission check (promotion and transfers call
    it after checking their own, stronger, permission)."""
    dcp_id = (dcp_id or "").strip()
    finding = check_dip_id(dcp_id)
    if finding is not None:
        raise invalid(
            finding.message.replace("DIP ID", "DCP ID"), code="invalid_dcp_id", field="dcp_id"
        )
    if dip_id.status != DipId.Status.ACTIVE:
        raise invalid(
            f"DIP ID {dip_id.value or '(pending)'} is {dip_id.status}; only an active DIP ID "
            "can be nominated.",
            code="dip_id_inactive",
            field="dip_id",
        )
    with transaction.atomic():
        dcp = DcpId.objects.select_for_update().filter(value=dcp_id).first()
        if dcp is None:
            raise invalid(f"Unknown DCP ID {dcp_id!r}.", code="unknown_dcp_id", field="dcp_id")
        if dcp.status != DcpId.Status.ACTIVE:
            raise invalid(
                f"DCP ID {dcp_id} is {dcp.status}.", code="dcp_id_inactive", field="dcp_id"
            )
        if dcp.environment != dip_id.environment:
            raise invalid(
                f"DCP ID {dcp_id} is for {dcp.environment}; DIP ID {dip_id.value} is in "
                f"{dip_id.environment}.",
                code="environment_mismatch",
                field="dcp_id",
            )
        if not DcpStatus.objects.filter(
            environment=dcp.environment, status=DcpStatus.Status.ACTIVE
        ).exists():
            raise invalid(
                f"Our DCP status in {dcp.environment} is not active.", code="dcp_status_inactive"
            )
        if DcpIdAssignment.objects.filter(dcp_id=dcp, active=True).exists():
            raise invalid(
                f"DCP ID {dcp_id} is already assigned to a DIP ID; ask us for a new DCP ID.",
                code="dcp_id_assigned",
                field="dcp_id",
            )
        if dip_id.nominations.filter(status=Nomination.Status.ACTIVE).exists():
            raise invalid(
                f"DIP ID {dip_id.value} already has an active nomination; revoke it first.",
                code="already_nominated",
                field="dip_id",
            )
        nomination = Nomination.objects.create(
            dip_id=dip_id,
            dcp_id=dcp_id,
            environment=dip_id.environment,
            whitelist_domains=whitelist_domains,
            nominated_by=email_of(actor),
        )
        try:
            with transaction.atomic():
                DcpIdAssignment.objects.create(
                    dcp_id=dcp,
                    tenant=current_tenant(),
                    dip_id=dip_id.value,
                    environment=dip_id.environment,
                    nomination_id=nomination.pk,
                )
        except IntegrityError:
            raise invalid(
                f"DCP ID {dcp_id} is already assigned to a DIP ID.",
                code="dcp_id_assigned",
                field="dcp_id",
            ) from None
        audit(
            action="nomination.created",
            actor=actor,
            target=nomination,
            public_too=True,
            changes={
                "dip_id": dip_id.value,
                "dcp_id": dcp_id,
                "environment": dip_id.environment,
                "whitelist_domains": whitelist_domains,
            },
        )
    return nomination


def revoke_nomination(*, nomination: Nomination, actor: User, reason: str = "") -> Nomination:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    return _revoke(nomination=nomination, actor=actor, reason=reason)


def _revoke(*, nomination: Nomination, actor: User | None, reason: str) -> Nomination:
    with transaction.atomic():
        nomination = Nomination.objects.select_for_update().get(pk=nomination.pk)
        if nomination.status != Nomination.Status.ACTIVE:
            raise invalid("This nomination is already revoked.", code="not_active")
        nomination.status = Nomination.Status.REVOKED
        nomination.revoked_by, nomination.revoked_at = email_of(actor), timezone.now()
        nomination.revoke_reason = reason.strip()[:500]
        nomination.save()
        DcpIdAssignment.objects.filter(
            tenant=current_tenant(), nomination_id=nomination.pk, active=True
        ).update(active=False, ended_at=timezone.now())
        audit(
            action="nomination.revoked",
            actor=actor,
            target=nomination,
            public_too=True,
            changes={"dcp_id": nomination.dcp_id, "reason": nomination.revoke_reason},
        )
    return nomination
