"""Critical finding (issue 17): DCP staff bypassed MFA and the login rate limit through the
Django admin login. There is one way in now — allauth — and a session that has not passed
MFA reaches nothing, whoever made it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tenants.roles import ClientRole, StaffRole
from tests.auth import forget_mfa
from tests.factories import PASSWORD, member, staff

pytestmark = pytest.mark.django_db

PLATFORM_PATHS = ["/", "/staff/", "/console/", "/api/v1/tenants/", "/api/v1/me/", "/audit/"]
TENANT_PATHS = ["/", "/members/", "/console/", "/api/v1/tenant/", "/api/v1/members/"]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _refused(response) -> bool:
    if response.status_code == 302:
        return "/accounts/login/" in response["Location"]
    return response.status_code in (401, 403) and (
        not response.get("Content-Type", "").startswith("application/json")
        or response.json()["code"] in ("mfa_required", "not_authenticated")
    )


def test_django_admin_login_is_gone(host_client):
    user = staff(StaffRole.DCP_ADMIN, is_staff=True, is_superuser=True)
    client = host_client()
    response = client.post(
        "/django-admin/login/", {"username": user.email, "password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 404
    assert "_auth_user_id" not in client.session
    for path in PLATFORM_PATHS:
        assert _refused(client.get(path)), path


@pytest.mark.parametrize("path", PLATFORM_PATHS)
def test_password_only_staff_session_reaches_nothing_on_the_platform(path, host_client):
    """A session made without allauth's MFA step (any other login path) is refused and signed
    out, although the user has a TOTP device."""
    client = host_client(None, staff(StaffRole.DCP_ADMIN, is_superuser=True))
    forget_mfa(client)
    assert _refused(client.get(path))
    assert "_auth_user_id" not in client.session  # signed out
    assert _refused(client.get("/"))


@pytest.mark.parametrize("path", TENANT_PATHS)
def test_password_only_sessions_reach_nothing_on_a_tenant(path, tenant_a, host_client):
    for user in (staff(StaffRole.DCP_ADMIN), member(tenant_a, ClientRole.CLIENT_ADMIN)):
        client = host_client(tenant_a, user)
        forget_mfa(client)
        assert _refused(client.get(path)), (user, path)


def test_password_step_alone_gives_nothing(host_client):
    """allauth's own flow: after the password, nothing is reachable until the code is given."""
    user = staff(StaffRole.DCP_ADMIN)
    client = host_client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    for path in PLATFORM_PATHS:
        assert _refused(client.get(path)), path


def test_the_full_allauth_sign_in_works(host_client):
    from tests.tenants.test_auth import _code

    user = staff(StaffRole.DCP_ADMIN)
    client = host_client()
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": _code(user.totp_secret)})
    for path in PLATFORM_PATHS:
        assert client.get(path).status_code == 200, path


def test_no_superuser_shortcut(host_client):
    """createsuperuser still works (bootstrap), but the superuser signs in like anyone else."""
    user = get_user_model().objects.create_superuser("root@example.test", PASSWORD)
    client = host_client(None, user)  # no authenticator: must set one up first
    response = client.get("/")
    assert response.status_code == 302 and "2fa/totp/activate" in response["Location"]
    assert client.get("/api/v1/tenants/").status_code == 403
