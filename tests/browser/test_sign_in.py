"""Signing in: without MFA, with a TOTP code, a wrong code, and forced TOTP set-up for staff."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import committed, screenshot, sign_in, totp_code

pytestmark = pytest.mark.browser


def test_client_admin_signs_in_to_tenant_home(page: Any, server: Any, make_person: Any) -> None:
    admin = make_person(
        "admin", tenant_slug="alpha", role=ClientRole.CLIENT_ADMIN, full_name="Ada Alpha"
    )
    page.goto(server.url("/accounts/login/", "alpha"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")

    sign_in(page, server, admin, "alpha")

    expect(page).to_have_url(server.url("/", "alpha"))
    expect(page.get_by_test_id("tenant-name")).to_have_text("Alpha Energy")
    expect(page.get_by_test_id("tenant-heading")).to_have_text("Alpha Energy")
    expect(page.get_by_test_id("home-members")).to_contain_text(admin.email)
    expect(page.get_by_text("You are Client admin")).to_be_visible()
    screenshot(page, "tenant-home")


def test_staff_signs_in_with_totp_code(page: Any, server: Any, make_person: Any) -> None:
    staff = make_person(
        "staff-mfa", staff_role=StaffRole.DCP_ADMIN, mfa=True, full_name="Sam Staff"
    )
    sign_in(page, server, staff)

    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    screenshot(page, "mfa-code")
    page.get_by_label("Code").fill(totp_code(staff.totp_secret))
    page.get_by_role("button", name="Verify and sign in").click()

    expect(page).to_have_url(server.url("/"))
    tenants = page.get_by_test_id("tenant-list")
    expect(tenants).to_contain_text("Alpha Energy")
    expect(tenants).to_contain_text("Beta Energy")
    expect(page.get_by_test_id("console-name")).to_have_text("DCP console")
    screenshot(page, "staff-tenants")

    page.get_by_role("search").get_by_label("Name or slug").fill("alph")
    page.get_by_role("button", name="Filter").click()
    expect(tenants).to_contain_text("Alpha Energy")
    expect(tenants).not_to_contain_text("Beta Energy")

    tenants.get_by_role("link", name="Alpha Energy").click()
    expect(page.get_by_role("heading", name="Alpha Energy", level=1)).to_be_visible()
    expect(page.get_by_test_id("status-form")).to_be_visible()
    screenshot(page, "tenant-detail")


def test_wrong_totp_code_is_refused(page: Any, server: Any, make_person: Any) -> None:
    staff = make_person("staff-wrong", staff_role=StaffRole.DCP_OPERATOR, mfa=True)
    sign_in(page, server, staff)
    valid = totp_code(staff.totp_secret)
    wrong = f"{(int(valid) + 1) % 1_000_000:06d}"

    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Verify and sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Incorrect code")
    expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")
    # Still only half signed in: the console sends them back to the code.
    page.goto(server.url("/"))
    expect(page).to_have_url(server.url("/accounts/2fa/authenticate/"))
    expect(page.get_by_test_id("tenant-list")).to_have_count(0)


def test_staff_without_totp_must_set_it_up(page: Any, server: Any, make_person: Any) -> None:
    staff = make_person("staff-new", staff_role=StaffRole.DCP_OPERATOR, full_name="Nia New")
    sign_in(page, server, staff)

    # allauth 65 asks for the password again before any MFA change, even right after login.
    expect(page.get_by_role("heading", name="Confirm access")).to_be_visible()
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(server.url("/accounts/2fa/totp/activate/"))
    expect(page.get_by_test_id("mfa-required")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    screenshot(page, "totp-activate")

    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    screenshot(page, "recovery-codes")

    page.goto(server.url("/"))
    expect(page.get_by_test_id("tenant-list")).to_contain_text("Alpha Energy")


def test_member_of_two_tenants_switches(page: Any, server: Any, make_person: Any) -> None:
    person = make_person("consultant", tenant_slug="alpha", role=ClientRole.CLIENT_OPERATOR)

    def join_beta() -> None:
        from tenants.models import Membership, Tenant, User

        Membership.objects.create(
            user=User.objects.get(email=person.email),
            tenant=Tenant.objects.get(slug="beta"),
            role=ClientRole.CLIENT_VIEWER,
        )

    committed(join_beta)
    sign_in(page, server, person)
    expect(page.get_by_test_id("choose-tenant")).to_contain_text("Beta Energy")
    page.get_by_role("link", name="Alpha Energy").click()
    expect(page.get_by_test_id("tenant-name")).to_have_text("Alpha Energy")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_test_id("audit-list")).to_be_visible()
    screenshot(page, "audit-log")

    page.get_by_test_id("tenant-switcher").click()
    page.get_by_test_id("switch-beta").click()
    expect(page).to_have_url(server.url("/", "beta"))
    expect(page.get_by_test_id("tenant-name")).to_have_text("Beta Energy")
    expect(page.get_by_text("You are Client viewer")).to_be_visible()
