"""Inventory, detail, alerts, request/import pages per role; staff health; the API format."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.factories import member, staff

from .conftest import DIP_ID, issue

VIEW_PAGES = ["/certificates/", "/certificates/alerts/"]
MANAGE_PAGES = ["/certificates/request/", "/certificates/import/"]
ROLES = {
    "client_admin": (200, 200),
    "client_operator": (200, 403),
    "client_viewer": (200, 403),
    "auditor": (200, 403),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_tenant_pages_per_role(role, tenant_a, host_client):
    with tenant_context(tenant_a):
        cert = issue()
    client = host_client(tenant_a, member(tenant_a, role))
    view_status, manage_status = ROLES[role]
    for url in [*VIEW_PAGES, f"/certificates/{cert.pk}/"]:
        response = client.get(url)
        assert response.status_code == view_status, (role, url)
        assert b"PRIVATE KEY" not in response.content
    for url in MANAGE_PAGES:
        assert client.get(url).status_code == manage_status, (role, url)
    assert client.get("/api/v1/certificates/").status_code == view_status


def test_other_tenant_members_see_nothing(tenant_a, tenant_b, host_client):
    client = host_client(tenant_a, member(tenant_b, "client_admin"))
    assert client.get("/certificates/").status_code in (403, 404)


def test_inventory_lists_and_filters(tenant_a, host_client):
    with tenant_context(tenant_a):
        cert = issue()
    client = host_client(tenant_a, member(tenant_a, "client_viewer"))
    body = client.get(f"/certificates/?dip_id={DIP_ID}").content.decode()
    assert cert.fingerprint_sha256[:16] in body
    assert (
        cert.fingerprint_sha256[:16]
        not in client.get("/certificates/?dip_id=9999999999").content.decode()
    )


def test_request_and_import_forms(tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, "client_admin"))
    response = client.post(
        "/certificates/request/",
        {
            "environment": "UIT",
            "usage": "signing",
            "dip_ids": DIP_ID,
            "common_name": "x.example",
            "dns_names": "",
            "key_type": "ec-p256",
            "provider": "local_ca",
        },
    )
    assert response.status_code == 200 and b"EC keys can only be used for mTLS" in response.content
    response = client.post(
        "/certificates/import/",
        {
            "environment": "UIT",
            "usage": "signing",
            "dip_ids": DIP_ID,
            "certificate_pem": "nope",
            "key_pem": "nope",
        },
    )
    assert response.status_code == 200 and b"Not a PEM certificate" in response.content


def test_platform_health_for_staff_only(tenant_a, host_client):
    with tenant_context(tenant_a):
        issue()
    assert host_client(None, staff("dcp_operator")).get("/certificates/").status_code == 200
    page = host_client(None, staff("dcp_admin")).get("/certificates/")
    assert tenant_a.name.encode() in page.content
    assert (
        host_client(None, member(tenant_a, "client_admin")).get("/certificates/").status_code == 403
    )


def test_api_import_error_format(tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, "client_admin"))
    response = client.post(
        "/api/v1/certificates/import/",
        {
            "environment": "UIT",
            "usage": "signing",
            "dip_ids": [DIP_ID],
            "pkcs12_base64": "aGVsbG8=",
            "password": "x",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "pkcs12_invalid" and response.json()["message"]
    denied = host_client(tenant_a, member(tenant_a, "client_viewer")).post(
        "/api/v1/certificates/", {}, content_type="application/json"
    )
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"


def test_api_request_and_health(tenant_a, host_client):
    client = host_client(tenant_a, member(tenant_a, "client_admin"))
    response = client.post(
        "/api/v1/certificates/",
        {
            "environment": "UIT",
            "usage": "signing",
            "dip_ids": [DIP_ID],
            "common_name": "api.example",
        },
        content_type="application/json",
    )
    assert response.status_code == 202 and response.json()["state"] == "pending"
    health = client.get("/api/v1/certificate-health/").json()
    assert health["status"] in {"ok", "warning", "critical"} and health["counts"]["pending"] == 1
