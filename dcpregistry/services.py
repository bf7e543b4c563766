"""Writes for the DCP organisation's status and DCP IDs (public schema). DCP staff only:
``dcp_admin`` requests status and creates IDs (Action.MANAGE_DCP_IDS); approving the status
stands in for the DIP Manager's decision (Action.APPROVE_REQUESTS)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from audit.services import record
from dcp.errors import invalid
from dcpregistry.environments import validate_environment
from dcpregistry.models import DcpId, DcpIdAssignment, DcpStatus
from tenants.models import User
from tenants.permissions import Action, require

MAX_BULK = 500


def _audit(**kwargs: object) -> None:
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        record(staff_context=True, **kwargs)  # type: ignore[arg-type]


def request_dcp_status(*, environment: str, actor: User) -> DcpStatus:
    require(actor, Action.MANAGE_DCP_IDS, None)
    validate_environment(environment)
    with transaction.atomic():
        status = DcpStatus.objects.select_for_update().filter(environment=environment).first()
        if status is not None and status.status != DcpStatus.Status.REJECTED:
            raise invalid(
                f"DCP status in {environment} is already {status.status}.",
                code=f"already_{status.status}",
            )
        if status is None:
            status = DcpStatus(environment=environment)
        status.status = DcpStatus.Status.REQUESTED
        status.requested_by, status.decided_by, status.decided_at = actor.email, "", None
        status.reason = ""
        status.save()
        _audit(action="dcp_status.requested", actor=actor, target=status)
    return status


def decide_dcp_status(
    *, environment: str, approve: bool, actor: User, reason: str = ""
) -> DcpStatus:
    """Record the DIP Manager's decision on our DCP status request."""
    require(actor, Action.APPROVE_REQUESTS, None)
    validate_environment(environment)
    if not approve and not reason.strip():
        raise invalid("Give the reason for the rejection.", code="required", field="reason")
    with transaction.atomic():
        status = DcpStatus.objects.select_for_update().filter(environment=environment).first()
        if status is None or status.status != DcpStatus.Status.REQUESTED:
            raise invalid(f"No pending DCP status request in {environment}.", code="not_pending")
        status.status = DcpStatus.Status.ACTIVE if approve else DcpStatus.Status.REJECTED
        status.decided_by, status.decided_at = actor.email, timezone.now()
        status.reason = reason.strip()
        status.save()
        _audit(
            action=f"dcp_status.{status.status}",
            actor=actor,
            target=status,
            changes={"reason": status.reason},
        )
    return status


def new_dcp_id_value() -> str:
    """A random 10-digit ID (DT-006 length; digits are valid hex for the SUR pattern)."""
    while True:
        value = f"{secrets.randbelow(10**10):010d}"
        if value[0] != "0" and not DcpId.objects.filter(value=value).exists():
            return value


def create_dcp_ids(*, environment: str, actor: User, count: int = 1, note: str = "") -> list[DcpId]:
    """Create ``count`` random, unassigned DCP IDs (one, or a bulk set)."""
    require(actor, Action.MANAGE_DCP_IDS, None)
    validate_environment(environment)
    if not 1 <= count <= MAX_BULK:
        raise invalid(
            f"Create 1 to {MAX_BULK} DCP IDs at a time.", code="invalid_count", field="count"
        )
    if not DcpStatus.objects.filter(
        environment=environment, status=DcpStatus.Status.ACTIVE
    ).exists():
        raise invalid(
            f"Our DCP status in {environment} is not active: request it and get it approved.",
            code="dcp_status_inactive",
        )
    batch = f"bulk-{timezone.now():%Y%m%d%H%M%S}" if count > 1 else ""
    with transaction.atomic():
        created = [
            DcpId.objects.create(
                value=new_dcp_id_value(),
                environment=environment,
                batch=batch,
                note=note[:200],
                created_by=actor.email,
            )
            for _ in range(count)
        ]
        _audit(
            action="dcp_id.created",
            actor=actor,
            target=created[0] if count == 1 else None,
            target_type="dcpregistry.DcpId",
            summary=f"Created {count} DCP ID(s) in {environment}",
            changes={"values": [d.value for d in created], "batch": batch},
        )
    return created


def retire_dcp_id(*, dcp_id: DcpId, actor: User) -> DcpId:
    require(actor, Action.MANAGE_DCP_IDS, None)
    if DcpIdAssignment.objects.filter(dcp_id=dcp_id, active=True).exists():
        raise invalid(
            f"DCP ID {dcp_id.value} is assigned; the client must revoke the nomination first.",
            code="dcp_id_assigned",
        )
    with transaction.atomic():
        dcp_id.status = DcpId.Status.RETIRED
        dcp_id.save(update_fields=["status"])
        _audit(action="dcp_id.retired", actor=actor, target=dcp_id)
    return dcp_id
