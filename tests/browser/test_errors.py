"""Pages that say no: unknown host, other tenants, suspended tenants."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.models import Tenant
from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import committed, screenshot, sign_in

pytestmark = pytest.mark.browser


def test_unknown_host_names_nothing(page: Any, server: Any) -> None:
    response = page.goto(server.url("/", "no-such-tenant"))
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("unknown-host")).to_be_visible()
    expect(page.get_by_test_id("tenant-name")).to_have_count(0)
    screenshot(page, "unknown-host")


def test_other_tenant_is_not_found_for_a_member(page: Any, server: Any, make_person: Any) -> None:
    member = make_person("alpha-only", tenant_slug="alpha", role=ClientRole.CLIENT_ADMIN)
    sign_in(page, server, member, "alpha")
    # Switching to a tenant one is not a member of: 404, nothing named.
    response = page.goto(server.url("/switch/?to=beta", "alpha"))
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("not-found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Beta Energy")
    # Sessions are per host: on beta's host they are not signed in at all.
    page.goto(server.url("/", "beta"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Beta Energy")


def set_beta_status(actor_email: str, status: str, reason: str = "") -> None:
    def change() -> None:
        from tenants import services
        from tenants.models import User

        services.set_tenant_status(
            tenant=Tenant.objects.get(slug="beta"),
            status=status,
            reason=reason,
            actor=User.objects.get(email=actor_email),
        )

    committed(change)


def test_suspended_tenant_shows_a_clear_page(page: Any, server: Any, make_person: Any) -> None:
    member = make_person("beta-member", tenant_slug="beta", role=ClientRole.CLIENT_VIEWER)
    actor = make_person("suspender", staff_role=StaffRole.DCP_ADMIN, mfa=True)
    sign_in(page, server, member, "beta")
    expect(page.get_by_test_id("tenant-name")).to_have_text("Beta Energy")

    set_beta_status(actor.email, Tenant.Status.SUSPENDED, "Browser test")
    try:
        response = page.goto(server.url("/members/", "beta"))
        assert response is not None and response.status == 403
        expect(page.get_by_test_id("tenant-unavailable")).to_contain_text("suspended")
        expect(page.get_by_test_id("member-list")).to_have_count(0)
        screenshot(page, "tenant-suspended")
    finally:
        set_beta_status(actor.email, Tenant.Status.ACTIVE)
    page.goto(server.url("/", "beta"))
    expect(page.get_by_test_id("tenant-heading")).to_have_text("Beta Energy")
