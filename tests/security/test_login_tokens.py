"""Finding (issue 17): a superuser could mint DRF tokens in the Django admin that skipped MFA
for good. Now tokens are issued only by POST /api/v1/me/token/, to a session that passed MFA,
audited, and refused once expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from tenants.roles import ClientRole, StaffRole
from tests.auth import forget_mfa
from tests.factories import member, staff

pytestmark = pytest.mark.django_db


def _issue(client):
    return client.post("/api/v1/me/token/")


def test_mfa_session_gets_an_expiring_audited_token(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    response = _issue(host_client(tenant_a, user))
    assert response.status_code == 201
    body = response.json()
    assert body["key"] and body["expires_at"]
    token = Token.objects.get(user=user)
    assert token.key == body["key"]
    with schema_context("public"):
        event = AuditEvent.objects.get(action="auth.api_token_issued", actor_id=user.pk)
    assert body["key"] not in str(event.changes) and "expires_at" in event.changes
    api = host_client(tenant_a)
    ok = api.get("/api/v1/tenant/", HTTP_AUTHORIZATION=f"Token {body['key']}")
    assert ok.status_code == 200


def test_issuing_again_replaces_the_token(tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, ClientRole.CLIENT_ADMIN))
    first = _issue(client).json()["key"]
    second = _issue(client).json()["key"]
    assert first != second
    api = host_client(tenant_a)
    assert api.get("/api/v1/tenant/", HTTP_AUTHORIZATION=f"Token {first}").status_code in (401, 403)


def test_session_without_mfa_cannot_get_a_token(tenant_a, host_client):
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)  # MFA optional, none used
    response = _issue(host_client(tenant_a, viewer))
    assert response.status_code == 403
    assert not Token.objects.filter(user=viewer).exists()


def test_staff_session_that_skipped_mfa_cannot_get_a_token(host_client):
    user = staff(StaffRole.DCP_ADMIN, is_superuser=True)
    client = host_client(None, user)
    forget_mfa(client)
    assert _issue(client).status_code == 403
    assert not Token.objects.filter(user=user).exists()


def test_a_token_cannot_mint_a_token(tenant_a, host_client):
    key = _issue(host_client(tenant_a, member(tenant_a, ClientRole.CLIENT_ADMIN))).json()["key"]
    response = host_client(tenant_a).post("/api/v1/me/token/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code in (401, 403)
    assert Token.objects.filter(key=key).exists()


def test_expired_token_is_refused_everywhere(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    key = _issue(host_client(tenant_a, user)).json()["key"]
    Token.objects.filter(key=key).update(
        created=Token.objects.get(key=key).created - settings.API_TOKEN_TTL - timedelta(seconds=1)
    )
    api = host_client(tenant_a)
    for path in ("/api/v1/tenant/", "/api/v1/me/", "/api/v1/outbound/availability/"):
        response = api.get(path, HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 401, path
        assert response.json()["code"] == "token_expired"
    state = host_client(tenant_a, user).get("/api/v1/me/token/").json()
    assert state["exists"] and state["expired"]


def test_revoked_token_is_refused_and_audited(tenant_a, host_client):
    user = member(tenant_a, ClientRole.CLIENT_ADMIN)
    client = host_client(tenant_a, user)
    key = _issue(client).json()["key"]
    assert client.delete("/api/v1/me/token/").status_code == 204
    api = host_client(tenant_a)
    assert api.get("/api/v1/tenant/", HTTP_AUTHORIZATION=f"Token {key}").status_code in (401, 403)
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="auth.api_token_revoked", actor_id=user.pk).exists()
