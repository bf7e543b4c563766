"""Sign-in, MFA enforcement, recovery codes, and the audit trail of authentication."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.cache import cache
from django_tenants.utils import schema_context

from audit.models import AuditEvent
from tenants.roles import ClientRole, StaffRole
from tests.factories import PASSWORD, UserFactory, member, staff

pytestmark = pytest.mark.django_db


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # rate limits and used-TOTP markers
    return


def _login(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


@pytest.mark.parametrize("role", [StaffRole.DCP_ADMIN, StaffRole.DCP_OPERATOR])
def test_staff_without_mfa_are_sent_to_set_it_up(role, host_client):
    user = UserFactory(staff_role=role)
    client = host_client(None, user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    api = client.get("/api/v1/tenants/")
    assert api.status_code == 403 and api.json()["code"] == "mfa_required"


def test_auditor_without_mfa_is_sent_to_set_it_up(tenant_a, host_client):
    user = UserFactory()
    from tests.factories import MembershipFactory

    MembershipFactory(user=user, tenant=tenant_a, role=ClientRole.AUDITOR)
    response = host_client(tenant_a, user).get("/")
    assert response.status_code == 302 and "2fa/totp/activate" in response["Location"]


def test_client_admin_without_mfa_is_sent_to_set_it_up(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN, mfa=False)
    response = host_client(tenant_a, user).get("/")
    assert response.status_code == 302 and "2fa/totp/activate" in response["Location"]


@pytest.mark.parametrize("role", [ClientRole.CLIENT_OPERATOR, ClientRole.CLIENT_VIEWER])
def test_mfa_optional_for_other_client_roles(role, tenant_a, host_client):
    response = host_client(tenant_a, member(tenant_a, role)).get("/")
    assert response.status_code == 200


def test_login_with_totp(host_client):
    user = staff(StaffRole.DCP_ADMIN)
    client = host_client()
    response = _login(client, user.email)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert client.get("/").status_code == 302  # not signed in until the code is given
    response = client.post("/accounts/2fa/authenticate/", {"code": _code(user.totp_secret)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    with schema_context("public"):
        actions = list(AuditEvent.objects.filter(actor_id=user.pk).values_list("action", flat=True))
    assert "auth.login" in actions and "auth.mfa_used" in actions


def test_wrong_mfa_code_is_refused_and_audited(host_client):
    user = staff(StaffRole.DCP_OPERATOR)
    client = host_client()
    _login(client, user.email)
    right = _code(user.totp_secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = client.post("/accounts/2fa/authenticate/", {"code": wrong})
    assert response.status_code == 200
    assert b"Incorrect code" in response.content or b"incorrect" in response.content.lower()
    assert client.get("/").status_code == 302
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="auth.mfa_failed", actor_id=user.pk).exists()


def test_recovery_code_works_once(host_client):
    user = staff(StaffRole.DCP_ADMIN)
    codes = RecoveryCodes.activate(user).generate_codes()
    first = host_client()
    _login(first, user.email)
    assert first.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert first.get("/").status_code == 200
    second = host_client()
    _login(second, user.email)
    response = second.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert response.status_code == 200  # reused recovery code: refused
    assert second.get("/").status_code == 302
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="auth.mfa_failed", actor_id=user.pk).exists()


def test_failed_password_is_audited_and_generic(host_client):
    user = UserFactory()
    response = _login(host_client(), user.email, "wrong-password-123")
    assert response.status_code == 200
    assert b"not correct" in response.content or b"incorrect" in response.content.lower()
    with schema_context("public"):
        assert AuditEvent.objects.filter(
            action="auth.login_failed", actor_email=user.email
        ).exists()


def test_signup_is_closed(host_client):
    response = host_client().get("/accounts/signup/")
    assert b"Sign Up Closed" in response.content or response.status_code in (403, 404)


def test_totp_secret_is_encrypted_at_rest(host_client):
    from allauth.mfa.models import Authenticator

    user = staff(StaffRole.DCP_ADMIN)
    stored = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"]
    assert user.totp_secret not in stored and stored.startswith("v1.")


def test_password_reset_by_email(host_client):
    import re

    from django.core import mail

    user = UserFactory(email="forgetful@example.test")
    client = host_client()
    response = client.post("/accounts/password/reset/", {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/password/reset/key/\S+", mail.outbox[0].body)
    assert link is not None
    path = "/" + link.group(0).split("/", 3)[3]
    form = client.get(path, follow=True)
    assert form.status_code == 200
    new = "an-entirely-new-passphrase"
    done = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else path,
        {"password1": new, "password2": new},
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)


def test_login_failures_are_rate_limited(host_client, settings):
    """Past the free failures: 429 with Retry-After, nothing checked, not signed in (the
    delays and the owner's way back: tests/security/test_login_throttle.py)."""
    settings.LOGIN_FAILURES_FREE_PER_ACCOUNT = 3
    user = UserFactory()
    client = host_client()
    for _ in range(4):
        _login(client, user.email, "wrong-password-123")
    blocked = _login(client, user.email, PASSWORD)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert client.get("/").status_code == 302
    assert b"Too many" in blocked.content
