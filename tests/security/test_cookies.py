"""Finding (issue 17): one session/CSRF cookie for all tenant subdomains, and another tenant's
Origin trusted for CSRF. Now every host has its own host-only cookies, a session replayed on
another host is not honoured, only the host itself is a trusted origin, and switching hosts
hands the sign-in over once."""

from __future__ import annotations

import pytest
from django.conf import settings

from tenants.roles import ClientRole, StaffRole
from tests.conftest import HostClient
from tests.factories import PASSWORD, member, staff
from tests.tenants.test_auth import _code

pytestmark = pytest.mark.django_db


def _sign_in(client: HostClient, user) -> None:
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    if response["Location"].startswith("/accounts/2fa/"):
        response = client.post("/accounts/2fa/authenticate/", {"code": _code(user.totp_secret)})
    assert response.status_code == 302


def test_session_and_csrf_cookies_are_host_only(tenant_a):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = HostClient(tenant_a.primary_host)
    client.get("/accounts/login/")
    _sign_in(client, user)
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert session["domain"] == "" and csrf["domain"] == ""  # no Domain: this host only
    assert session["httponly"] and session["samesite"] == "Lax"
    assert settings.SESSION_COOKIE_DOMAIN is None and settings.CSRF_COOKIE_DOMAIN is None


def test_session_replayed_on_another_tenant_host_is_not_honoured(tenant_a, tenant_b):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    from tests.factories import MembershipFactory

    MembershipFactory(user=user, tenant=tenant_b, role=ClientRole.CLIENT_ADMIN)
    alpha = HostClient(tenant_a.primary_host)
    _sign_in(alpha, user)
    assert alpha.get("/").status_code == 200
    stolen = alpha.cookies[settings.SESSION_COOKIE_NAME].value
    beta = HostClient(tenant_b.primary_host)
    beta.cookies[settings.SESSION_COOKIE_NAME] = stolen
    response = beta.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert beta.get("/api/v1/members/").status_code in (401, 403)
    assert alpha.get("/").status_code == 200  # the owner's session is untouched


def test_another_tenants_origin_is_not_trusted_for_csrf(tenant_a, tenant_b):
    user = member(tenant_b, ClientRole.CLIENT_ADMIN)
    beta = HostClient(tenant_b.primary_host, enforce_csrf_checks=True)
    beta.get("/accounts/login/")
    token = beta.cookies[settings.CSRF_COOKIE_NAME].value
    form = {"login": user.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    foreign = beta.post("/accounts/login/", form, HTTP_ORIGIN=f"http://{tenant_a.primary_host}")
    assert foreign.status_code == 403
    platform = beta.post("/accounts/login/", form, HTTP_ORIGIN=f"http://{settings.BASE_DOMAIN}")
    assert platform.status_code == 403
    own = beta.post("/accounts/login/", form, HTTP_ORIGIN=f"http://{tenant_b.primary_host}")
    assert own.status_code == 302


def test_trusted_origins_name_no_wildcard():
    assert not any("*" in origin for origin in settings.CSRF_TRUSTED_ORIGINS)


def test_switching_hosts_hands_the_sign_in_over_once(tenant_a, public_tenant):
    user = staff(StaffRole.DCP_ADMIN)
    platform = HostClient(settings.BASE_DOMAIN)
    _sign_in(platform, user)
    response = platform.get("/switch/?to=alpha")
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith(f"http://{tenant_a.primary_host}") and "/switch/continue/" in target
    path = "/" + target.split("/", 3)[3]

    alpha = HostClient(tenant_a.primary_host)
    landed = alpha.get(path, HTTP_SEC_FETCH_SITE="same-site")
    assert landed.status_code == 302 and landed["Location"] == "/"
    assert alpha.get("/").status_code == 200  # signed in, MFA state carried over
    assert alpha.get(path, HTTP_SEC_FETCH_SITE="same-site").status_code == 410  # once only

    # and on again, from the handed-over session (platform → alpha → beta)
    onward = alpha.get("/switch/?to=beta")["Location"]
    beta = HostClient(f"beta.{settings.BASE_DOMAIN}")
    beta.get("/" + onward.split("/", 3)[3], HTTP_SEC_FETCH_SITE="same-site")
    assert beta.get("/").status_code == 200


def test_handoff_only_on_its_own_host_and_confirmed_when_from_elsewhere(tenant_a, tenant_b):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    from tests.factories import MembershipFactory

    MembershipFactory(user=user, tenant=tenant_b, role=ClientRole.CLIENT_VIEWER)
    alpha = HostClient(tenant_a.primary_host)
    _sign_in(alpha, user)
    path = "/" + alpha.get("/switch/?to=beta")["Location"].split("/", 3)[3]

    elsewhere = HostClient(tenant_a.primary_host)  # the token is for beta, not alpha
    assert elsewhere.get(path, HTTP_SEC_FETCH_SITE="same-site").status_code == 410

    beta = HostClient(tenant_b.primary_host)
    confirm = beta.get(path, HTTP_SEC_FETCH_SITE="cross-site")  # a link on another site
    assert confirm.status_code == 200 and user.email.encode() in confirm.content
    assert beta.get("/").status_code == 302  # not signed in by merely opening the link
    assert beta.post(path).status_code == 302
    assert beta.get("/").status_code == 200


def test_switch_to_a_tenant_one_may_not_enter_is_404(tenant_a, tenant_b):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    alpha = HostClient(tenant_a.primary_host)
    _sign_in(alpha, user)
    assert alpha.get("/switch/?to=beta").status_code == 404
    assert alpha.get("/switch/?to=platform").status_code == 404


def test_a_one_tenant_member_on_the_platform_host_is_handed_to_their_tenant(tenant_a):
    user = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    platform = HostClient(settings.BASE_DOMAIN)
    _sign_in(platform, user)
    home = platform.get("/")
    assert home.status_code == 302 and home["Location"] == "/switch/?to=alpha"
    target = platform.get(home["Location"])["Location"]
    alpha = HostClient(tenant_a.primary_host)
    alpha.get("/" + target.split("/", 3)[3], HTTP_SEC_FETCH_SITE="same-site")
    assert alpha.get("/").status_code == 200
