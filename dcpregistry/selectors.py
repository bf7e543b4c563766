"""Reads over the public DCP registry."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from dcpregistry.models import DcpId, DcpIdAssignment, DcpStatus


def dcp_ids_with_assignment() -> QuerySet[DcpId]:
    active = DcpIdAssignment.objects.filter(dcp_id=OuterRef("pk"), active=True)
    return DcpId.objects.annotate(assigned=Exists(active))


def available_dcp_ids(environment: str) -> QuerySet[DcpId]:
    """Active DCP IDs in ``environment`` that no client DIP ID holds."""
    return DcpId.objects.filter(environment=environment, status=DcpId.Status.ACTIVE).exclude(
        assignments__active=True
    )


def active_assignment(dcp_id: str) -> DcpIdAssignment | None:
    return (
        DcpIdAssignment.objects.select_related("tenant", "dcp_id")
        .filter(dcp_id__value=dcp_id, active=True)
        .first()
    )


def dcp_status(environment: str) -> DcpStatus | None:
    return DcpStatus.objects.filter(environment=environment).first()
