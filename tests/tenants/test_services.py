"""Tenant lifecycle, invitations and membership rules through the services and HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from tenants import services
from tenants.models import Domain, Invitation, Membership, Tenant
from tenants.roles import ClientRole, StaffRole
from tests.factories import UserFactory, member, staff

pytestmark = pytest.mark.django_db


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("select 1 from information_schema.schemata where schema_name = %s", [name])
        return cur.fetchone() is not None


def test_create_tenant_makes_schema_domain_invitation_and_audit(django_capture_on_commit_callbacks):
    admin = staff(StaffRole.DCP_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        created = services.create_tenant(
            name="Gamma Power", slug="gamma", actor=admin, admin_email="Boss@Gamma.example"
        )
    tenant = created.tenant
    assert _schema_exists("t_gamma")
    assert Domain.objects.get(tenant=tenant).domain == "gamma.opendcp.localhost"
    assert created.invitation is not None and created.invitation.email == "boss@gamma.example"
    assert created.invitation.role == ClientRole.CLIENT_ADMIN
    assert (
        created.invitation_token and created.invitation_token not in created.invitation.token_hash
    )
    assert len(mail.outbox) == 1 and created.invitation_token in mail.outbox[0].body
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="tenant.created", target_id=str(tenant.pk)).exists()
    with tenant_context(tenant):
        assert AuditEvent.objects.filter(action="tenant.created").count() == 1


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("Bad Slug", "invalid_slug"),
        ("ab", "invalid_slug"),
        ("admin", "reserved_slug"),
        ("alpha", "duplicate"),
        ("-lead", "invalid_slug"),
    ],
)
def test_create_tenant_rejects_bad_slugs(slug, code, tenant_a):
    with pytest.raises(ValidationError) as err:
        services.create_tenant(name="X", slug=slug, actor=staff())
    assert err.value.code == code


def test_create_tenant_via_api_reports_clear_errors(host_client):
    client = host_client(None, staff())
    response = client.post(
        "/api/v1/tenants/", {"name": "", "slug": "Bad Slug"}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "slug" in body["details"] and body["message"]


def test_status_transitions_and_reasons(tenant_a):
    admin = staff()
    with pytest.raises(ValidationError):
        services.set_tenant_status(tenant=tenant_a, status="suspended", reason=" ", actor=admin)
    services.set_tenant_status(tenant=tenant_a, status="suspended", reason="unpaid", actor=admin)
    assert Tenant.objects.get(pk=tenant_a.pk).status == "suspended"
    services.set_tenant_status(tenant=tenant_a, status="offboarding", reason="exit", actor=admin)
    services.set_tenant_status(tenant=tenant_a, status="offboarded", reason="done", actor=admin)
    with pytest.raises(ValidationError) as err:
        services.set_tenant_status(tenant=tenant_a, status="active", reason="", actor=admin)
    assert err.value.code == "invalid_transition"
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action__startswith="tenant.status.").count() == 3


def test_operator_cannot_change_status(tenant_a):
    from tenants.permissions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.set_tenant_status(
            tenant=tenant_a, status="suspended", reason="x", actor=staff(StaffRole.DCP_OPERATOR)
        )


def test_invitation_round_trip_new_user(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    invitation, token = services.invite(
        tenant=tenant_a, email="new@example.test", role=ClientRole.CLIENT_OPERATOR, actor=admin
    )
    client = host_client()
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and b"new@example.test" in page.content
    weak = client.post(f"/invitations/{token}/", {"password": "short", "password_confirm": "short"})
    assert weak.status_code == 200 and Invitation.objects.get(pk=invitation.pk).status == "pending"
    response = client.post(
        f"/invitations/{token}/",
        {
            "full_name": "New Person",
            "password": "a-very-long-passphrase",
            "password_confirm": "a-very-long-passphrase",
        },
    )
    # signed in on the platform host; handed over to the tenant's host (host-only sessions)
    assert response.status_code == 302
    assert response["Location"].startswith("http://alpha.opendcp.localhost/switch/continue/")
    alpha = host_client(tenant_a)
    landed = alpha.get("/" + response["Location"].split("/", 3)[3], HTTP_SEC_FETCH_SITE="same-site")
    assert landed.status_code == 302 and alpha.get("/").status_code == 200
    membership = Membership.objects.get(tenant=tenant_a, user__email="new@example.test")
    assert membership.role == ClientRole.CLIENT_OPERATOR
    again = host_client().get(f"/invitations/{token}/")
    assert again.status_code == 410 and b"already been used" in again.content


def test_existing_user_accepts_when_signed_in_as_that_user(tenant_a, tenant_b, host_client):
    consultant = member(tenant_b, ClientRole.CLIENT_VIEWER, email="consultant@example.test")
    _, token = services.invite(
        tenant=tenant_a,
        email=consultant.email,
        role=ClientRole.CLIENT_VIEWER,
        actor=member(tenant_a, ClientRole.CLIENT_ADMIN),
    )
    anonymous = host_client().get(f"/invitations/{token}/")
    assert b"Sign in" in anonymous.content
    other = host_client(None, UserFactory())
    refused = other.post(f"/invitations/{token}/")
    assert b"you are signed in as" in refused.content
    client = host_client(None, consultant)
    assert client.post(f"/invitations/{token}/").status_code == 302
    assert set(consultant.memberships.values_list("tenant__slug", flat=True)) == {"alpha", "beta"}
    # a member of several tenants switches between them
    # (host-only sessions: the sign-in is handed over once, tests/security/test_cookies.py)
    assert client.get("/switch/?to=alpha")["Location"].startswith(
        "http://alpha.opendcp.localhost/switch/continue/"
    )
    assert client.get("/switch/?to=beta")["Location"].startswith(
        "http://beta.opendcp.localhost/switch/continue/"
    )


def test_expired_invitation_is_refused_and_audited(tenant_a, host_client):
    invitation, token = services.invite(
        tenant=tenant_a,
        email="late@example.test",
        role=ClientRole.CLIENT_VIEWER,
        actor=member(tenant_a, ClientRole.CLIENT_ADMIN),
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires=timezone.now() - timedelta(1))
    response = host_client().get(f"/invitations/{token}/")
    assert response.status_code == 410 and b"expired" in response.content
    with tenant_context(tenant_a):
        assert AuditEvent.objects.filter(action="invitation.expired_use").exists()


def test_unknown_and_revoked_invitations(tenant_a, host_client):
    assert host_client().get("/invitations/not-a-token/").status_code == 410
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    invitation, token = services.invite(
        tenant=tenant_a, email="r@example.test", role=ClientRole.CLIENT_VIEWER, actor=admin
    )
    services.revoke_invitation(invitation=invitation, actor=admin)
    assert b"withdrawn" in host_client().get(f"/invitations/{token}/").content


def test_reinviting_supersedes_pending_invitation(tenant_a):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    first, _ = services.invite(
        tenant=tenant_a, email="twice@example.test", role=ClientRole.CLIENT_VIEWER, actor=admin
    )
    services.invite(
        tenant=tenant_a, email="twice@example.test", role=ClientRole.AUDITOR, actor=admin
    )
    assert Invitation.objects.get(pk=first.pk).status == "revoked"


def test_cannot_invite_existing_member_or_bad_role(tenant_a):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with pytest.raises(ValidationError):
        services.invite(tenant=tenant_a, email=admin.email, role="client_viewer", actor=admin)
    with pytest.raises(ValidationError):
        services.invite(tenant=tenant_a, email="z@example.test", role="overlord", actor=admin)


def test_last_admin_is_protected(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    membership = Membership.objects.get(user=admin, tenant=tenant_a)
    client = host_client(tenant_a, admin)
    response = client.patch(
        f"/api/v1/members/{membership.pk}/",
        {"role": "client_viewer"},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["code"] == "last_admin"
    assert client.delete(f"/api/v1/members/{membership.pk}/").status_code == 400


def test_admin_changes_role_and_removes_member_with_audit(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    other = member(tenant_a, ClientRole.CLIENT_VIEWER)
    membership = Membership.objects.get(user=other, tenant=tenant_a)
    client = host_client(tenant_a, admin)
    response = client.post(
        f"/members/{membership.pk}/role/", {"role": "client_operator"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and b"member-" in response.content
    assert Membership.objects.get(pk=membership.pk).role == "client_operator"
    assert client.post(f"/members/{membership.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    with tenant_context(tenant_a):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"member.role_changed", "member.removed"} <= actions


def test_staff_access_to_a_tenant_is_audited(tenant_a, host_client):
    operator = staff(StaffRole.DCP_OPERATOR)
    client = host_client(tenant_a, operator)
    assert client.get("/").status_code == 200
    client.get("/members/")
    with tenant_context(tenant_a):
        events = AuditEvent.objects.filter(action="staff.tenant_access", actor_id=operator.pk)
        assert events.count() == 1  # once per session per tenant
        assert events.get().actor_kind == "staff"


def test_staff_console_lists_and_filters_tenants(tenant_a, tenant_b, host_client):
    client = host_client(None, staff(StaffRole.DCP_OPERATOR))
    page = client.get("/")
    assert b"Alpha Energy" in page.content and b"Beta Energy" in page.content
    filtered = client.get("/?q=beta")
    assert b"Beta Energy" in filtered.content and b"Alpha Energy" not in filtered.content
    api = client.get("/api/v1/tenants/?status=active").json()
    assert {t["slug"] for t in api["results"]} >= {"alpha", "beta"}
