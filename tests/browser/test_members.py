"""Member management: invite, accept, change role via htmx; what a viewer may not do."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole
from tests.browser.conftest import committed, screenshot, sign_in, unique_email

pytestmark = pytest.mark.browser


def test_invite_accept_and_change_role(new_page: Any, server: Any, make_person: Any) -> None:
    admin = make_person("inviter", tenant_slug="alpha", role=ClientRole.CLIENT_ADMIN)
    page = new_page()
    sign_in(page, server, admin, "alpha")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_test_id("member-list")).to_contain_text(admin.email)
    screenshot(page, "members")

    newcomer = unique_email("newcomer")
    page.get_by_test_id("invite-member").click()
    page.get_by_label("Email").fill(newcomer)
    page.get_by_label("Role").select_option(ClientRole.CLIENT_OPERATOR)
    screenshot(page, "invite")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_text(f"Invitation sent to {newcomer}.")).to_be_visible()
    pending = page.get_by_test_id(f"invitation-{newcomer}")
    expect(pending).to_contain_text("Client operator")

    # The email (locmem in the server process) is out of reach: re-issue the invitation
    # through the service, which supersedes the first one and hands back its token.
    def reissue() -> str:
        from tenants import services
        from tenants.models import Tenant, User

        _, token = services.invite(
            tenant=Tenant.objects.get(slug="alpha"),
            email=newcomer,
            role=ClientRole.CLIENT_OPERATOR,
            actor=User.objects.get(email=admin.email),
        )
        return token

    token = committed(reissue)

    guest = new_page()
    guest.goto(server.url(f"/invitations/{token}/"))
    expect(guest.get_by_role("heading", name="Join Alpha Energy")).to_be_visible()
    guest.get_by_label("Your name").fill("Nora Newcomer")
    guest.get_by_label("Password", exact=True).fill("a-long-unique-passphrase-2026")
    guest.get_by_label("Repeat password").fill("a-long-unique-passphrase-2026")
    screenshot(guest, "invitation-accept")
    guest.get_by_role("button", name="Create account and join").click()

    expect(guest).to_have_url(server.url("/", "alpha"))
    expect(guest.get_by_test_id("tenant-name")).to_have_text("Alpha Energy")
    expect(guest.get_by_text("You are Client operator")).to_be_visible()

    page.reload()
    expect(page.get_by_test_id(f"invitation-{newcomer}")).to_have_count(0)
    role = page.get_by_label(f"Role of {newcomer}")
    expect(role).to_have_value(ClientRole.CLIENT_OPERATOR)
    role.select_option(ClientRole.CLIENT_VIEWER)
    expect(page.get_by_text(f"{newcomer} is now Client viewer.")).to_be_visible()
    screenshot(page, "members-role-changed")
    page.reload()
    expect(page.get_by_label(f"Role of {newcomer}")).to_have_value(ClientRole.CLIENT_VIEWER)


def test_last_admin_cannot_be_demoted(page: Any, server: Any, make_person: Any) -> None:
    admin = make_person("sole-admin", tenant_slug="beta", role=ClientRole.CLIENT_ADMIN)
    sign_in(page, server, admin, "beta")
    page.goto(server.url("/members/", "beta"))
    page.get_by_label(f"Role of {admin.email}").select_option(ClientRole.CLIENT_VIEWER)
    expect(page.get_by_text("A tenant must keep at least one client admin.")).to_be_visible()
    expect(page.get_by_label(f"Role of {admin.email}")).to_have_value(ClientRole.CLIENT_ADMIN)


def test_viewer_cannot_invite(page: Any, server: Any, make_person: Any) -> None:
    viewer = make_person("viewer", tenant_slug="alpha", role=ClientRole.CLIENT_VIEWER)
    sign_in(page, server, viewer, "alpha")
    page.goto(server.url("/members/", "alpha"))
    expect(page.get_by_test_id("member-list")).to_contain_text(viewer.email)
    expect(page.get_by_test_id("invite-member")).to_have_count(0)
    expect(page.get_by_label(f"Role of {viewer.email}")).to_have_count(0)

    response = page.goto(server.url("/members/invite/", "alpha"))
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("forbidden")).to_contain_text("Not allowed")
    screenshot(page, "forbidden")
