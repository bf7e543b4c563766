"""Tenant isolation: a member of tenant A reaches nothing of tenant B, through any page or API
route, and no tenant B row appears in any list A can read."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from audit.services import record
from tenants import services
from tenants.models import Invitation, Membership
from tenants.roles import ClientRole
from tests.factories import member

pytestmark = pytest.mark.django_db

# Open on every host by design: sign-in, invitations, API docs, liveness/readiness (status only
# for non-staff), metrics (token or staff only), the DIP webhook (signature-checked).
OPEN_PREFIXES = (
    "accounts/",
    "invitations/",
    "api/schema",
    "api/docs",
    "healthz",
    "readyz",
    "metrics",
    "static/",
    "dip/",
    ".well-known/",
)


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    out: list[str] = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out.extend(_routes(pattern, route))
        elif isinstance(pattern, URLPattern):
            out.append(route)
    return out


def _concrete(route: str) -> str:
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"<int:\w+>|\(\?P<\w+>\[\^/\.\]\+\)", "1", route)
    route = re.sub(r"<(?:slug|str):\w+>|\(\?P<\w+>[^)]*\)", "x", route)
    route = route.replace("\\.", ".").replace("/?", "/")
    return "/" + route


def tenant_routes() -> list[str]:
    raw = [r for r in _routes(get_resolver("dcp.urls_tenant")) if "format" not in r]
    routes = {_concrete(r) for r in raw}
    return sorted(r for r in routes if not r.lstrip("/").startswith(OPEN_PREFIXES))


def test_route_list_is_not_empty():
    routes = tenant_routes()
    assert "/" in routes and "/members/" in routes and "/api/v1/members/" in routes
    assert "/api/v1/audit-events/" in routes


@pytest.mark.parametrize("path", tenant_routes())
def test_member_of_a_gets_404_for_every_tenant_b_page(path, tenant_a, tenant_b, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = host_client(tenant_b, user)
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        assert response.status_code == 404, (method, path, response.status_code)
        assert tenant_b.name.encode() not in response.content


@pytest.mark.parametrize("path", [p for p in tenant_routes() if p.startswith("/api/")])
def test_token_of_a_member_is_refused_on_tenant_b_api(path, tenant_a, tenant_b, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    token = Token.objects.create(user=user)
    client = host_client(tenant_b)
    response = client.get(path, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code in (403, 404), (path, response.status_code)
    body = response.content.decode()
    assert "alpha" not in body.lower()


def test_no_tenant_b_row_reaches_a_through_any_list(tenant_a, tenant_b, host_client):
    admin_a = member(tenant_a, ClientRole.CLIENT_ADMIN)
    admin_b = member(tenant_b, ClientRole.CLIENT_ADMIN, email="secret-b-admin@example.test")
    services.invite(
        tenant=tenant_b,
        email="secret-b-invitee@example.test",
        role=ClientRole.CLIENT_VIEWER,
        actor=admin_b,
    )
    with tenant_context(tenant_b):
        record(action="secret.b.action", actor=admin_b, summary="tenant-b-only")
    client = host_client(tenant_a, admin_a)
    for path in (
        "/api/v1/members/",
        "/api/v1/invitations/",
        "/api/v1/audit-events/",
        "/members/",
        "/audit/",
        "/",
    ):
        body = client.get(path).content.decode()
        assert "secret-b-" not in body, path
        assert "secret.b.action" not in body and "tenant-b-only" not in body, path
    assert not Membership.objects.filter(tenant=tenant_a, user=admin_b).exists()
    with tenant_context(tenant_a):
        assert not AuditEvent.objects.filter(action="secret.b.action").exists()
    assert Invitation.objects.filter(tenant=tenant_b).exists()


def test_member_pages_of_own_tenant_work(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = host_client(tenant_a, admin)
    for path in (
        "/",
        "/members/",
        "/members/invite/",
        "/audit/",
        "/api/v1/members/",
        "/api/v1/tenant/",
        "/api/v1/invitations/",
        "/api/v1/audit-events/",
    ):
        assert client.get(path).status_code == 200, path


def test_tenant_b_object_ids_are_not_reachable_from_a(tenant_a, tenant_b, host_client):
    admin_a = member(tenant_a, ClientRole.CLIENT_ADMIN)
    victim = member(tenant_b, ClientRole.CLIENT_VIEWER)
    membership_b = Membership.objects.get(user=victim, tenant=tenant_b)
    client = host_client(tenant_a, admin_a)
    assert client.get(f"/api/v1/members/{membership_b.pk}/").status_code == 404
    assert client.delete(f"/api/v1/members/{membership_b.pk}/").status_code == 404
    assert client.post(f"/members/{membership_b.pk}/remove/").status_code == 404
    assert (
        client.post(f"/members/{membership_b.pk}/role/", {"role": "client_admin"}).status_code
        == 404
    )
    membership_b.refresh_from_db()
    assert membership_b.role == ClientRole.CLIENT_VIEWER


def test_unknown_host_is_404_and_names_no_tenant(host_client, tenant_a):
    from tests.conftest import HostClient

    for host in ("nope.opendcp.localhost", "t_alpha.opendcp.localhost"):
        response = HostClient(host).get("/")
        assert response.status_code == 404
        assert b"Alpha" not in response.content


def test_suspended_tenant_shows_clear_page_and_no_data(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    member(tenant_a, ClientRole.CLIENT_VIEWER, email="suspended-colleague@example.test")
    tenant_a.status = tenant_a.Status.SUSPENDED
    tenant_a.save(update_fields=["status"])
    client = host_client(tenant_a, admin)
    for path in ("/", "/members/", "/api/v1/members/"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"suspended" in response.content
        assert b"suspended-colleague@example.test" not in response.content


def test_open_operational_endpoints_leak_nothing_of_tenant_b(tenant_a, tenant_b, host_client):
    client = host_client(tenant_b, member(tenant_a, ClientRole.CLIENT_ADMIN))
    assert client.get("/metrics").status_code == 401
    ready = client.get("/readyz")
    assert set(ready.json()) == {"status"}
    assert tenant_b.name.encode() not in ready.content
