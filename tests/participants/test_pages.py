"""Every onboarding page renders for every role that may see it, and refuses the others."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from participants.services import api_keys, channels, dip_ids, nominations
from tenants.roles import ClientRole, StaffRole
from tests.factories import member, staff

pytestmark = pytest.mark.django_db

CLIENT_ROLES = [r.value for r in ClientRole]
STAFF_ROLES = [r.value for r in StaffRole]


@pytest.fixture
def populated(tenant_a, admin_a, dcp_admin, dcp_ready):
    with tenant_context(tenant_a):
        sup = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin_a)
        dip = dip_ids.create_dip_id(mpid_role=sup, environment="UIT", actor=admin_a)
        mdr = dip_ids.add_mpid_role(mpid="ALFA", role_code="MDR", actor=admin_a)
        mdr_dip = dip_ids.create_dip_id(mpid_role=mdr, environment="UIT", actor=admin_a)
        nominations.nominate_dcp(
            dip_id=dip, dcp_id=dcp_ready["UIT"][0], whitelist_domains=True, actor=admin_a
        )
        api_keys.generate_keys(dip_id=dip, actor=admin_a)
        channels.configure_channel(dip_id=dip, interface_id="IF-002", actor=admin_a)
    return {"dip": dip, "mdr": mdr_dip}


def _user(role, tenant):
    return staff(role) if role in STAFF_ROLES else member(tenant, role)


@pytest.mark.parametrize("role", CLIENT_ROLES + STAFF_ROLES)
def test_tenant_pages(role, host_client, tenant_a, populated):
    client = host_client(tenant_a, _user(role, tenant_a))
    for path in [
        "/setup/",
        "/setup/?environment=UIT&status=active",
        f"/setup/dip-ids/{populated['dip'].pk}/",
        f"/setup/dip-ids/{populated['mdr'].pk}/",
        "/setup/channels/",
        "/setup/channels/?environment=UIT&enabled=yes",
        "/setup/channels/?format=csv",
        "/setup/promotion/",
    ]:
        resp = client.get(path)
        assert resp.status_code == 200, (role, path, resp.status_code)


def test_tenant_pages_hidden_from_outsiders(host_client, tenant_a, tenant_b):
    outsider = member(tenant_b, ClientRole.CLIENT_ADMIN)
    assert host_client(tenant_a, outsider).get("/setup/").status_code == 404


PLATFORM_PAGES = [
    "/onboarding/",
    "/onboarding/dcp-ids/",
    "/onboarding/dcp-ids/?environment=UIT&assigned=no",
    "/onboarding/transfers/",
    "/onboarding/tenants/alpha/offboard/",
    "/onboarding/tenants/alpha/export/",
]


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_platform_pages_for_staff(role, host_client, populated):
    client = host_client(None, staff(role))
    for path in PLATFORM_PAGES:
        assert client.get(path).status_code == 200, (role, path)


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_platform_pages_refuse_clients(role, host_client, tenant_a):
    client = host_client(None, _user(role, tenant_a))
    for path in PLATFORM_PAGES:
        assert client.get(path).status_code == 403, (role, path)


def test_viewer_cannot_post_and_admin_sees_coded_errors(host_client, tenant_a, admin_a, viewer_a):
    viewer = host_client(tenant_a, viewer_a)
    assert (
        viewer.post("/setup/mpid-roles/", {"mpid": "ALFA", "role_code": "SUP"}).status_code == 403
    )
    admin = host_client(tenant_a, admin_a)
    resp = admin.post("/setup/mpid-roles/", {"mpid": "AL1", "role_code": "SUP"}, follow=True)
    assert b"MPID must be exactly 4 upper-case letters" in resp.content


def test_key_generation_page_shows_the_secret_once(host_client, tenant_a, admin_a, populated):
    client = host_client(tenant_a, admin_a)
    dip = populated["dip"]
    resp = client.post(f"/setup/dip-ids/{dip.pk}/regenerate_secondary/")
    assert resp.status_code == 200 and b"Copy your API keys now" in resp.content
    page = client.get(f"/setup/dip-ids/{dip.pk}/").content.decode()
    assert "sha256:" in page and "Copy your API keys now" not in page


def test_anonymous_is_sent_to_login(host_client, tenant_a):
    assert host_client(tenant_a).get("/setup/").status_code == 302
