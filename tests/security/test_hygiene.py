"""Least privilege and hygiene (issue 17, point 7): saved searches (viewers keep private ones
only; opening and deleting check the owner; every write audited), the invitations API follows
the members page, evidence access requests are POSTs (a GET writes no audit row), download
links are audited, and ``next=`` redirects stay on our host."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from audit.models import AuditEvent
from console import search
from console.models import SavedSearch
from evidence import services as evidence
from evidence.models import EvidencePack
from participants.services import channels, dip_ids
from tenants.roles import ClientRole
from tests.conftest import host_of
from tests.factories import member

pytestmark = pytest.mark.django_db

QS = search.SearchQuery(status_group="failure").querystring()


def _saved(tenant: Any, **filters: Any) -> list[SavedSearch]:
    with tenant_context(tenant):
        return list(SavedSearch.objects.filter(**filters))


def _audited(tenant: Any, action: str) -> list[AuditEvent]:
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(action=action))


@pytest.mark.parametrize("role", [ClientRole.CLIENT_VIEWER, ClientRole.AUDITOR])
def test_viewers_and_auditors_keep_private_searches_only(tenant_a, host_client, role):
    user = member(tenant_a, role)
    client = host_client(tenant_a, user)
    shared = client.post("/console/saved/", {"name": "Team view", "qs": QS, "shared": "on"})
    assert shared.status_code == 403
    assert _saved(tenant_a) == []
    private = client.post("/console/saved/", {"name": "Mine", "qs": QS})
    assert private.status_code == 302
    [saved] = _saved(tenant_a)
    assert (saved.owner, saved.shared) == (user.email, False)
    [event] = _audited(tenant_a, "console.saved_search.created")
    assert event.target_id == str(saved.pk) and event.changes["shared"] is False
    # The page offers no "shared" box to someone who may not share.
    assert (
        'name="shared"' not in client.get("/console/", {"status_group": "failure"}).content.decode()
    )


def test_operator_shares_and_others_open_only_what_they_may(tenant_a, host_client):
    operator = member(tenant_a, ClientRole.CLIENT_OPERATOR)
    viewer = member(tenant_a, ClientRole.CLIENT_VIEWER)
    op, view = host_client(tenant_a, operator), host_client(tenant_a, viewer)
    assert (
        op.post("/console/saved/", {"name": "Shared", "qs": QS, "shared": "on"}).status_code == 302
    )
    assert op.post("/console/saved/", {"name": "Private", "qs": QS}).status_code == 302
    shared = _saved(tenant_a, name="Shared")[0]
    private = _saved(tenant_a, name="Private")[0]
    assert shared.shared and not private.shared

    opened = view.get(f"/console/saved/{shared.pk}/")
    assert opened.status_code == 302 and "status_group=failure" in opened["Location"]
    assert view.get(f"/console/saved/{private.pk}/").status_code == 404
    page = view.get("/console/", {"status_group": "failure"}).content.decode()
    assert "Shared" in page and "Private" not in page

    # Deleting: not someone else's private search, not a shared one without the right to share.
    assert view.post(f"/console/saved/{private.pk}/delete/").status_code == 404
    assert view.post(f"/console/saved/{shared.pk}/delete/").status_code == 403
    assert view.get(f"/console/saved/{shared.pk}/delete/").status_code == 405
    assert len(_saved(tenant_a)) == 2
    assert op.post(f"/console/saved/{private.pk}/delete/").status_code == 302
    assert _saved(tenant_a, pk=private.pk) == []
    [event] = _audited(tenant_a, "console.saved_search.deleted")
    assert event.target_id == str(private.pk)


def test_invitations_api_follows_the_members_page(tenant_a, host_client):
    from tenants import services as tenant_services

    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    tenant_services.invite(
        email="pending@example.test", actor=admin, tenant=tenant_a, role=ClientRole.CLIENT_VIEWER
    )
    for role in (ClientRole.CLIENT_VIEWER, ClientRole.CLIENT_OPERATOR, ClientRole.AUDITOR):
        client = host_client(tenant_a, member(tenant_a, role))
        listing = client.get("/api/v1/invitations/")
        assert listing.status_code == 403, role
        assert b"pending@example.test" not in listing.content
        assert b"pending@example.test" not in client.get("/members/").content
    admin_list = host_client(tenant_a, admin).get("/api/v1/invitations/")
    assert admin_list.status_code == 200
    assert admin_list.json()["results"][0]["email"] == "pending@example.test"


def test_evidence_access_request_is_a_post(tenant_a, tenant_b, host_client):
    auditor = member(tenant_a, ClientRole.AUDITOR)
    platform = host_client(None, auditor)

    def denials() -> int:
        with schema_context("public"):
            return AuditEvent.objects.filter(action="evidence.access_denied").count()

    page = platform.get("/evidence/access/beta/")
    assert page.status_code == 200 and b"<form" in page.content
    assert denials() == 0  # a GET (a link, an <img> on another site) writes nothing
    assert platform.post("/evidence/access/beta/").status_code == 404
    assert denials() == 1
    granted = platform.post("/evidence/access/alpha/")
    assert granted.status_code == 302 and granted["Location"].endswith("/evidence/")
    assert denials() == 1

    # Cross-site: without the page's CSRF token the POST is refused and not recorded.
    cross_site = Client(HTTP_HOST=host_of(None), enforce_csrf_checks=True)
    cross_site.force_login(auditor, backend="django.contrib.auth.backends.ModelBackend")
    assert cross_site.post("/evidence/access/beta/").status_code == 403
    assert denials() == 1


def test_download_links_are_audited(tenant_a, host_client):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    now = timezone.now()
    with tenant_context(tenant_a):
        pack = EvidencePack.objects.create(
            status=EvidencePack.Status.READY,
            period_start=now.date() - timedelta(days=1),
            period_end=now.date(),
            expires_at=now + timedelta(days=30),
        )
    resp = host_client(tenant_a, admin).post(f"/api/v1/evidence/packs/{pack.public_id}/link/")
    assert resp.status_code == 200 and resp.json()["url"]
    [event] = _audited(tenant_a, "evidence.link_issued")
    assert event.target_id == str(pack.pk) and event.actor_id == admin.pk
    with tenant_context(tenant_a):
        evidence.download_token(pack=pack, user=admin)
    assert len(_audited(tenant_a, "evidence.link_issued")) == 2


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "javascript:alert(1)",
        "http://beta.opendcp.localhost/setup/",
    ],
)
def test_channel_toggle_next_stays_on_this_host(tenant_a, host_client, target):
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    with tenant_context(tenant_a):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin)
        dip = dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin)
        channel = channels.configure_channel(dip_id=dip, interface_id="IF-002", actor=admin)
    client = host_client(tenant_a, admin)
    refused = client.post(f"/setup/channels/{channel.pk}/toggle/", {"next": target})
    assert refused.status_code == 302 and refused["Location"] == "/setup/channels/"
    local = f"/setup/dip-ids/{dip.pk}/"
    kept = client.post(f"/setup/channels/{channel.pk}/toggle/", {"next": local})
    assert kept.status_code == 302 and kept["Location"] == local
