"""MFA policy (issue 17): staff and auditors as before, client admins by default, every member
when the tenant asks for it; enforced on the session's MFA state, not on having a device."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from tenants.mfa import mfa_required
from tenants.roles import ClientRole, StaffRole
from tests.auth import forget_mfa
from tests.factories import PASSWORD, UserFactory, member, staff
from tests.tenants.test_auth import _code

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "required"),
    [
        (ClientRole.CLIENT_ADMIN, True),
        (ClientRole.AUDITOR, True),
        (ClientRole.CLIENT_OPERATOR, False),
        (ClientRole.CLIENT_VIEWER, False),
    ],
)
def test_default_policy_by_role(role, required, tenant_a):
    assert mfa_required(member(tenant_a, role, mfa=False)) is required


@pytest.mark.parametrize("role", [StaffRole.DCP_ADMIN, StaffRole.DCP_OPERATOR])
def test_staff_always(role):
    assert mfa_required(UserFactory(staff_role=role))


def test_client_admin_password_only_is_sent_to_set_up_mfa_then_gets_in(tenant_a, host_client):
    """Sign in with the password alone, activate TOTP: the activation is the MFA step."""
    import time

    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    user = member(tenant_a, ClientRole.CLIENT_ADMIN, mfa=False)
    client = host_client(tenant_a)
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    response = client.get("/")
    assert response.status_code == 302 and "2fa/totp/activate" in response["Location"]
    assert client.get("/api/v1/tenant/").json()["code"] == "mfa_required"
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    secret = page.context["form"].secret
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    activated = client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert activated.status_code == 302, activated.content[:2000]
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/tenant/").status_code == 200


def test_tenant_setting_extends_mfa_to_every_member(tenant_a, tenant_b, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    outsider = member(tenant_b, ClientRole.CLIENT_VIEWER)
    viewer_client = host_client(tenant_a, viewer)
    assert viewer_client.get("/").status_code == 200

    response = host_client(tenant_a, admin).put(
        "/api/v1/tenant/mfa-policy/", {"mfa_for_all_members": True}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"mfa_for_all_members": True}
    tenant_a.refresh_from_db()
    assert tenant_a.mfa_for_all_members
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action="tenant.mfa_policy_changed").exists()

    # the viewer's existing session is stopped at the next request
    assert "2fa/totp/activate" in viewer_client.get("/")["Location"]
    assert mfa_required(viewer)
    assert not mfa_required(outsider)  # other tenants keep their own policy
    assert host_client(tenant_b, outsider).get("/").status_code == 200


def test_only_managers_change_the_policy(tenant_a, host_client):
    for role in (ClientRole.CLIENT_OPERATOR, ClientRole.CLIENT_VIEWER, ClientRole.AUDITOR):
        client = host_client(tenant_a, member(tenant_a, role))
        put = client.put(
            "/api/v1/tenant/mfa-policy/",
            {"mfa_for_all_members": True},
            content_type="application/json",
        )
        assert put.status_code == 403, role
    tenant_a.refresh_from_db()
    assert not tenant_a.mfa_for_all_members


def test_policy_form_on_the_members_page(tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, ClientRole.CLIENT_ADMIN))
    assert b'data-testid="mfa-policy"' in client.get("/members/").content
    assert client.post("/members/mfa-policy/", {"mfa_for_all_members": "on"}).status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.mfa_for_all_members
    assert client.post("/members/mfa-policy/", {}).status_code == 302
    tenant_a.refresh_from_db()
    assert not tenant_a.mfa_for_all_members


def test_a_device_is_not_a_session(tenant_a, host_client):
    """Having TOTP set up is not enough: the session must have passed the MFA step."""
    auditor = member(tenant_a, ClientRole.AUDITOR)
    client = host_client(tenant_a, auditor)
    forget_mfa(client)
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # signing in properly (password, then the code) works
    client.post("/accounts/login/", {"login": auditor.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": _code(auditor.totp_secret)})
    assert client.get("/").status_code == 200


def test_staff_session_without_mfa_is_signed_out(host_client):
    client = host_client(None, staff(StaffRole.DCP_OPERATOR))
    forget_mfa(client)
    assert client.get("/console/").status_code == 302
    assert "_auth_user_id" not in client.session
