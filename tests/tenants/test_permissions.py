"""The role × action matrix, as the product promises it, checked against the one permissions
module and, for representative actions, through HTTP."""

from __future__ import annotations

import pytest

from tenants import permissions
from tenants.permissions import Action
from tenants.roles import ClientRole, StaffRole
from tests.factories import UserFactory, member, staff

pytestmark = pytest.mark.django_db

A = Action
TENANT_ACTIONS = [
    A.VIEW_TENANT,
    A.VIEW_MEMBERS,
    A.MANAGE_MEMBERS,
    A.VIEW_AUDIT,
    A.VIEW_MESSAGES,
    A.SEND_MESSAGES,
    A.OPERATE_MESSAGES,
    A.MANAGE_CONFIGURATION,
    A.VIEW_EVIDENCE,
]
PLATFORM_ACTIONS = [A.VIEW_PLATFORM, A.MANAGE_TENANTS, A.MANAGE_STAFF, A.APPROVE_REQUESTS]

# Expected matrix, written out by hand: the specification, not a copy of the code.
#                    view  vmem  mmem  audit vmsg  send  oper  conf  evid
EXPECTED_TENANT = {
    ClientRole.CLIENT_ADMIN: [1, 1, 1, 1, 1, 1, 1, 1, 1],
    ClientRole.CLIENT_OPERATOR: [1, 1, 0, 1, 1, 1, 1, 0, 0],
    ClientRole.CLIENT_VIEWER: [1, 1, 0, 0, 1, 0, 0, 0, 0],
    ClientRole.AUDITOR: [1, 0, 0, 1, 1, 0, 0, 0, 1],
    StaffRole.DCP_ADMIN: [1, 1, 1, 1, 1, 1, 1, 1, 1],
    StaffRole.DCP_OPERATOR: [1, 1, 0, 1, 1, 1, 1, 0, 1],
    None: [0, 0, 0, 0, 0, 0, 0, 0, 0],
}
#                       view  tenants staff approve
EXPECTED_PLATFORM = {
    StaffRole.DCP_ADMIN: [1, 1, 1, 1],
    StaffRole.DCP_OPERATOR: [1, 0, 0, 0],
    ClientRole.CLIENT_ADMIN: [0, 0, 0, 0],
    ClientRole.AUDITOR: [0, 0, 0, 0],
    None: [0, 0, 0, 0],
}


def _user_with(role, tenant):
    if role in StaffRole.values:
        return staff(role)
    if role in ClientRole.values:
        return member(tenant, role)
    return UserFactory()


@pytest.mark.parametrize("role", list(EXPECTED_TENANT))
def test_tenant_matrix(role, tenant_a, tenant_b):
    user = _user_with(role, tenant_a)
    for action, expected in zip(TENANT_ACTIONS, EXPECTED_TENANT[role], strict=True):
        assert permissions.allowed(user, action, tenant_a) is bool(expected), (role, action)
        # Client roles grant nothing in another tenant; staff roles apply everywhere.
        in_b = bool(expected) and role in StaffRole.values
        assert permissions.allowed(user, action, tenant_b) is in_b, (role, action, "tenant b")


@pytest.mark.parametrize("role", list(EXPECTED_PLATFORM))
def test_platform_matrix(role, tenant_a):
    user = _user_with(role, tenant_a)
    for action, expected in zip(PLATFORM_ACTIONS, EXPECTED_PLATFORM[role], strict=True):
        assert permissions.allowed(user, action, None) is bool(expected), (role, action)


def test_inactive_and_anonymous_users_have_no_rights(tenant_a):
    from django.contrib.auth.models import AnonymousUser

    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    user.is_active = False
    assert permissions.actions_for(user, tenant_a) == frozenset()
    assert permissions.actions_for(AnonymousUser(), tenant_a) == frozenset()  # type: ignore[arg-type]


# HTTP: the same decisions reach views and API.
HTTP_CASES = [
    # role, method, path, data, expected status
    (ClientRole.CLIENT_VIEWER, "get", "/members/", None, 200),
    (ClientRole.CLIENT_VIEWER, "get", "/members/invite/", None, 403),
    (
        ClientRole.CLIENT_VIEWER,
        "post",
        "/api/v1/invitations/",
        {"email": "x@example.test", "role": "client_viewer"},
        403,
    ),
    (ClientRole.CLIENT_VIEWER, "get", "/audit/", None, 403),
    (ClientRole.CLIENT_VIEWER, "get", "/api/v1/audit-events/", None, 403),
    (ClientRole.CLIENT_OPERATOR, "get", "/audit/", None, 200),
    (ClientRole.CLIENT_OPERATOR, "get", "/members/invite/", None, 403),
    (
        ClientRole.CLIENT_ADMIN,
        "post",
        "/api/v1/invitations/",
        {"email": "new@example.test", "role": "client_viewer"},
        201,
    ),
    (ClientRole.AUDITOR, "get", "/api/v1/audit-events/", None, 200),
    (ClientRole.AUDITOR, "get", "/api/v1/members/", None, 403),
]


@pytest.mark.parametrize(("role", "method", "path", "data", "expected"), HTTP_CASES)
def test_http_respects_matrix(role, method, path, data, expected, tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, role))
    response = (
        getattr(client, method)(path, data=data, content_type="application/json")
        if data
        else getattr(client, method)(path)
    )
    assert response.status_code == expected, response.content[:300]


@pytest.mark.parametrize(
    ("role", "expected"),
    [(StaffRole.DCP_ADMIN, 201), (StaffRole.DCP_OPERATOR, 403), (ClientRole.CLIENT_ADMIN, 403)],
)
def test_only_dcp_admin_creates_tenants_via_api(role, expected, tenant_a, host_client):
    client = host_client(None, _user_with(role, tenant_a))
    response = client.post(
        "/api/v1/tenants/",
        {"name": "Gamma Power", "slug": "gamma"},
        content_type="application/json",
    )
    assert response.status_code == expected, response.content[:300]
    if expected == 403:
        assert response.json()["code"] == "permission_denied"
