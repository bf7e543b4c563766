"""Pages that say no: unknown host, other tenants, suspended tenants."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.models import Tenant
from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import screenshot, sign_in

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
    response = page.goto(server.url("/", "beta"))
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("not-found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Beta Energy")


def test_suspended_tenant_shows_a_clear_page(
    page: Any, server: Any, make_person: Any, committed: Any
) -> None:
    actor = make_person("suspender", staff_role=StaffRole.DCP_ADMIN, mfa=True)
    with committed():
        from tenants import services
        from tenants.models import User

        admin = User.objects.get(email=actor.email)
        beta = Tenant.objects.get(slug="beta")
        services.set_tenant_status(
            tenant=beta, status=Tenant.Status.SUSPENDED, reason="Browser test", actor=admin
        )
    try:
        response = page.goto(server.url("/", "beta"))
        assert response is not None and response.status == 403
        expect(page.get_by_test_id("tenant-unavailable")).to_contain_text("suspended")
        screenshot(page, "tenant-suspended")
        page.goto(server.url("/accounts/login/", "beta"))
        expect(page.get_by_test_id("tenant-unavailable")).to_be_visible()
    finally:
        with committed():
            beta.refresh_from_db()
            services.set_tenant_status(
                tenant=beta, status=Tenant.Status.ACTIVE, reason="", actor=admin
            )
