"""MPID + role and DIP IDs: validation, pre-approval, requests decided by DCP staff."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from participants.models import DipId, MpidRole
from participants.services import dip_ids
from tenants.permissions import PermissionDenied

pytestmark = pytest.mark.django_db


def _code(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.code or ""


@pytest.mark.parametrize(
    ("mpid", "role", "code"),
    [
        ("AB1", "SUP", "invalid_mpid"),
        ("ABCDE", "SUP", "invalid_mpid"),
        ("", "SUP", "invalid_mpid"),
        ("ABCD", "XYZ", "unknown_role"),
        ("ABCD", "MDS", "role_not_requestable"),
    ],
)
def test_bad_mpid_or_role(tenant_a, admin_a, mpid, role, code):
    with tenant_context(tenant_a), pytest.raises(ValidationError) as exc:
        dip_ids.add_mpid_role(mpid=mpid, role_code=role, actor=admin_a)
    assert _code(exc) == code
    with tenant_context(tenant_a):
        assert not MpidRole.objects.exists()


def test_duplicate_mpid_role(tenant_a, admin_a):
    with tenant_context(tenant_a):
        dip_ids.add_mpid_role(mpid="abcd", role_code="sup", actor=admin_a)
        with pytest.raises(ValidationError) as exc:
            dip_ids.add_mpid_role(mpid="ABCD", role_code="SUP", actor=admin_a)
        assert _code(exc) == "duplicate"
        assert MpidRole.objects.count() == 1


def test_supplier_dip_id_is_active_at_once(tenant_a, admin_a):
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin_a)
        assert combo.pre_approved
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
        assert dip.status == DipId.Status.ACTIVE and len(dip.value) == 10
        assert AuditEvent.objects.filter(action="dip_id.created").exists()
        with pytest.raises(ValidationError) as exc:
            dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
        assert _code(exc) == "duplicate"


def test_other_roles_are_requested_then_decided_by_staff(tenant_a, admin_a, dcp_admin):
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="MDR", actor=admin_a)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
        assert dip.status == DipId.Status.REQUESTED and dip.value == ""
        with pytest.raises(PermissionDenied):
            dip_ids.approve_dip_id(dip_id=dip, actor=admin_a)
        with pytest.raises(ValidationError) as exc:
            dip_ids.approve_dip_id(dip_id=dip, actor=dcp_admin, value="12345")
        assert _code(exc) == "invalid_dip_id"
        dip = dip_ids.approve_dip_id(dip_id=dip, actor=dcp_admin, value="1400000001")
        assert dip.status == DipId.Status.ACTIVE and dip.value == "1400000001"
        with pytest.raises(ValidationError):
            dip_ids.approve_dip_id(dip_id=dip, actor=dcp_admin)


def test_rejection_needs_a_reason(tenant_a, admin_a, dcp_admin):
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SDS", actor=admin_a)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
        with pytest.raises(ValidationError):
            dip_ids.reject_dip_id(dip_id=dip, actor=dcp_admin, reason=" ")
        dip = dip_ids.reject_dip_id(dip_id=dip, actor=dcp_admin, reason="MPID not qualified")
        assert dip.status == DipId.Status.REJECTED
        # a rejected request does not block a new one
        again = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin_a)
        assert again.status == DipId.Status.REQUESTED


def test_bad_environment_and_dip_id(tenant_a, admin_a):
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin_a)
        with pytest.raises(ValidationError) as exc:
            dip_ids.create_dip_id(mpid_role=combo, environment="PROD", actor=admin_a)
        assert _code(exc) == "invalid_environment"
        with pytest.raises(ValidationError) as exc:
            dip_ids.create_dip_id(mpid_role=combo, environment="SIT", actor=admin_a)
        assert _code(exc) == "unsupported_environment"
        with pytest.raises(ValidationError) as exc:
            dip_ids.create_dip_id(mpid_role=combo, environment="UIT", value="12-45", actor=admin_a)
        assert _code(exc) == "invalid_dip_id"
        assert not DipId.objects.exists()


def test_viewer_cannot_add(tenant_a, viewer_a):
    with tenant_context(tenant_a), pytest.raises(PermissionDenied):
        dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=viewer_a)
