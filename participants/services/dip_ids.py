"""MPID + role combinations and DIP IDs (seed 000 "How to create a DIP ID", seed 002 §3)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from dcp.errors import invalid
from dcpregistry.environments import validate_environment
from dip.identifiers import check_dip_id, check_mpid
from participants.models import DipId, MpidRole
from participants.roles import PRE_APPROVED_ROLES, ROLES_BY_CODE
from participants.services.common import audit, new_dip_id_value, require_here
from tenants import permissions
from tenants.models import User
from tenants.permissions import Action


def validate_dip_id_value(value: str, *, field: str = "value") -> str:
    finding = check_dip_id(value)
    if finding is not None:
        raise invalid(finding.message, code="invalid_dip_id", field=field)
    return value


def add_mpid_role(
    *, mpid: str, role_code: str, actor: User, pre_approved: bool | None = None
) -> MpidRole:
    """Record an MPID + DIP role the client holds. Supplier roles are pre-approved (seed 002
    §3.3.3); marking another combination pre-approved (qualification data) is for DCP staff."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    mpid = (mpid or "").strip().upper()
    finding = check_mpid(mpid)
    if finding is not None:
        raise invalid(finding.message, code="invalid_mpid", field="mpid")
    role = ROLES_BY_CODE.get((role_code or "").strip().upper())
    if role is None:
        raise invalid(
            f"Unknown DIP role {role_code!r}; use one of {', '.join(ROLES_BY_CODE)}.",
            code="unknown_role",
            field="role_code",
        )
    if not role.requestable:
        raise invalid(
            f"{role.code} ({role.service_name}) is a central role and cannot be requested.",
            code="role_not_requestable",
            field="role_code",
        )
    if pre_approved is None:
        pre_approved = role.code in PRE_APPROVED_ROLES
    elif pre_approved and role.code not in PRE_APPROVED_ROLES:
        permissions.require(actor, Action.APPROVE_REQUESTS, None)
    if MpidRole.objects.filter(mpid=mpid, role_code=role.code).exists():
        raise invalid(f"{mpid}/{role.code} is already held.", code="duplicate", field="role_code")
    try:
        with transaction.atomic():
            combo = MpidRole.objects.create(
                mpid=mpid, role_code=role.code, pre_approved=pre_approved, created_by=actor.email
            )
            audit(
                action="mpid_role.added",
                actor=actor,
                target=combo,
                changes={"mpid": mpid, "role_code": role.code, "pre_approved": pre_approved},
            )
    except IntegrityError:
        raise invalid(
            f"{mpid}/{role.code} is already held.", code="duplicate", field="role_code"
        ) from None
    return combo


def remove_mpid_role(*, mpid_role: MpidRole, actor: User) -> None:
    require_here(actor, Action.MANAGE_CONFIGURATION)
    if mpid_role.dip_ids.exists():
        raise invalid(f"{mpid_role} has DIP IDs; it stays on record.", code="in_use")
    with transaction.atomic():
        audit(action="mpid_role.removed", actor=actor, target=mpid_role)
        mpid_role.delete()


def create_dip_id(*, mpid_role: MpidRole, environment: str, actor: User, value: str = "") -> DipId:
    """Create a DIP ID (pre-approved: active at once) or request one (decided by DCP staff).
    ``value`` is the DIP ID the portal shows, if the client already has it."""
    require_here(actor, Action.MANAGE_CONFIGURATION)
    validate_environment(environment)
    value = (value or "").strip()
    if value:
        validate_dip_id_value(value)
    live = DipId.objects.filter(
        mpid_role=mpid_role,
        environment=environment,
        status__in=[DipId.Status.REQUESTED, DipId.Status.ACTIVE],
    )
    if live.exists():
        raise invalid(
            f"{mpid_role} already has a DIP ID (or a request) in {environment}.",
            code="duplicate",
            field="mpid_role",
        )
    if value and _value_taken(value, environment):
        raise invalid(f"DIP ID {value} exists in {environment}.", code="duplicate", field="value")
    with transaction.atomic():
        dip = DipId(
            mpid_role=mpid_role,
            environment=environment,
            value=value,
            requested_by=actor.email,
        )
        if mpid_role.pre_approved:
            dip.status = DipId.Status.ACTIVE
            dip.value = value or _fresh_value(environment)
            dip.decided_by, dip.decided_at = "pre-approved", timezone.now()
        dip.save()
        audit(
            action="dip_id.created" if mpid_role.pre_approved else "dip_id.requested",
            actor=actor,
            target=dip,
            changes={"mpid_role": str(mpid_role), "environment": environment, "value": dip.value},
        )
    return dip


def _value_taken(value: str, environment: str) -> bool:
    return DipId.objects.filter(
        value=value,
        environment=environment,
        status__in=[DipId.Status.REQUESTED, DipId.Status.ACTIVE],
    ).exists()


def _fresh_value(environment: str) -> str:
    while True:
        value = new_dip_id_value()
        if not _value_taken(value, environment):
            return value


def approve_dip_id(*, dip_id: DipId, actor: User, value: str = "") -> DipId:
    """DCP staff relay the DIP Manager's approval; ``value`` is the issued DIP ID. Four eyes:
    whoever raised the request cannot approve it (another DCP staff member does)."""
    permissions.require(actor, Action.APPROVE_REQUESTS, None)
    if dip_id.requested_by and dip_id.requested_by.strip().lower() == actor.email.lower():
        raise invalid(
            "Four eyes: you raised this DIP ID request; another DCP staff member approves it.",
            code="four_eyes",
        )
    value = (value or "").strip() or dip_id.value
    if value:
        validate_dip_id_value(value)
        if value != dip_id.value and _value_taken(value, dip_id.environment):
            raise invalid(f"DIP ID {value} exists.", code="duplicate", field="value")
    with transaction.atomic():
        dip = DipId.objects.select_for_update().get(pk=dip_id.pk)
        if dip.status != DipId.Status.REQUESTED:
            raise invalid(f"This DIP ID is {dip.status}, not requested.", code="not_pending")
        dip.value = value or _fresh_value(dip.environment)
        dip.status = DipId.Status.ACTIVE
        dip.decided_by, dip.decided_at = actor.email, timezone.now()
        dip.save()
        audit(
            action="dip_id.approved",
            actor=actor,
            target=dip,
            public_too=True,
            changes={"value": dip.value},
        )
    return dip


def reject_dip_id(*, dip_id: DipId, actor: User, reason: str) -> DipId:
    permissions.require(actor, Action.APPROVE_REQUESTS, None)
    if not (reason or "").strip():
        raise invalid("Give the reason for the rejection.", code="required", field="reason")
    with transaction.atomic():
        dip = DipId.objects.select_for_update().get(pk=dip_id.pk)
        if dip.status != DipId.Status.REQUESTED:
            raise invalid(f"This DIP ID is {dip.status}, not requested.", code="not_pending")
        dip.status = DipId.Status.REJECTED
        dip.decided_by, dip.decided_at = actor.email, timezone.now()
        dip.decision_reason = reason.strip()
        dip.save()
        audit(
            action="dip_id.rejected",
            actor=actor,
            target=dip,
            public_too=True,
            changes={"reason": dip.decision_reason},
        )
    return dip
