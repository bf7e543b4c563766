"""Four eyes (issue 17): a second DCP staff member approves (1) applying a promotion change set
and (2) a DIP ID request that the approver raised themselves."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from participants.models import DipId, PromotionChangeSet
from participants.services import dip_ids, promotion
from tenants.roles import ClientRole, StaffRole
from tests.factories import member, staff

pytestmark = pytest.mark.django_db


def _code(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.code or ""


def test_staff_cannot_approve_a_dip_id_request_they_raised(tenant_a):
    raiser, second = staff(StaffRole.DCP_ADMIN), staff(StaffRole.DCP_ADMIN)
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="FEYE", role_code="MDR", actor=raiser)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=raiser)
        assert dip.status == DipId.Status.REQUESTED
        with pytest.raises(ValidationError) as exc:
            dip_ids.approve_dip_id(dip_id=dip, actor=raiser, value="1700000901")
        assert _code(exc) == "four_eyes"
        dip.refresh_from_db()
        assert dip.status == DipId.Status.REQUESTED
        approved = dip_ids.approve_dip_id(dip_id=dip, actor=second, value="1700000901")
        assert approved.status == DipId.Status.ACTIVE and approved.decided_by == second.email


def test_dip_id_four_eyes_through_the_api(tenant_a, host_client):
    raiser, second = staff(StaffRole.DCP_ADMIN), staff(StaffRole.DCP_ADMIN)
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="FEYF", role_code="MDR", actor=raiser)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=raiser)
    path = f"/api/v1/dip-ids/{dip.pk}/approve/"
    refused = host_client(tenant_a, raiser).post(path, {"value": "1700000902"})
    assert refused.status_code == 400 and refused.json()["code"] == "four_eyes"
    assert host_client(tenant_a, second).post(path, {"value": "1700000902"}).status_code == 200


def test_a_request_raised_by_a_client_is_approved_by_one_staff_member(tenant_a):
    client_admin, approver = member(tenant_a, ClientRole.CLIENT_ADMIN), staff()
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="FEYG", role_code="MDR", actor=client_admin)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=client_admin)
        assert dip_ids.approve_dip_id(dip_id=dip, actor=approver, value="1700000903").value


def test_promotion_needs_an_approval_and_a_different_staff_member_to_apply(tenant_a):
    """The success path (PRD gains the DIP IDs) runs in tests/participants/test_journey.py;
    here a change set that is not certified shows each refusal comes before any work."""
    first, second = staff(StaffRole.DCP_ADMIN), staff(StaffRole.DCP_ADMIN)
    with tenant_context(tenant_a):
        change_set = PromotionChangeSet.objects.create(diff={}, created_by="someone@example.test")
        with pytest.raises(ValidationError) as exc:
            promotion.apply_promotion(change_set=change_set, actor=first)
        assert _code(exc) == "four_eyes"  # nobody approved it yet

        promotion.approve_promotion(change_set=change_set, actor=first)
        with pytest.raises(ValidationError) as exc:
            promotion.approve_promotion(change_set=change_set, actor=second)
        assert _code(exc) == "already_approved"
        with pytest.raises(ValidationError) as exc:
            promotion.apply_promotion(change_set=change_set, actor=first)
        assert _code(exc) == "four_eyes"  # the approver cannot also apply

        with pytest.raises(ValidationError) as exc:
            promotion.apply_promotion(change_set=change_set, actor=second)
        assert _code(exc) == "not_certified"  # past four eyes, on to the business checks
        change_set.refresh_from_db()
        assert change_set.approved_by == first.email
        assert change_set.status == PromotionChangeSet.Status.PROPOSED
        assert AuditEvent.objects.filter(action="promotion.approved").exists()
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="promotion.approved").exists()


def test_client_admin_cannot_approve_a_promotion(tenant_a):
    from tenants.permissions import PermissionDenied

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        change_set = PromotionChangeSet.objects.create(diff={}, created_by=admin.email)
        with pytest.raises(PermissionDenied):
            promotion.approve_promotion(change_set=change_set, actor=admin)
