"""allauth pages in our layout: password reset end to end, two-factor overview, sign out."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import committed, screenshot, sign_in, totp_code

pytestmark = pytest.mark.browser

NEW_PASSWORD = "another-long-passphrase-2026"


def reset_path(email: str) -> str:
    """The link of the reset email (which stays in the server's in-memory outbox)."""

    def build() -> str:
        from allauth.account.forms import default_token_generator
        from allauth.account.utils import user_pk_to_url_str

        from tenants.models import User

        user = User.objects.get(email=email)
        return f"/accounts/password/reset/key/{user_pk_to_url_str(user)}-{default_token_generator.make_token(user)}/"

    return committed(build)


def test_password_reset(page: Any, server: Any, make_person: Any) -> None:
    person = make_person("forgetful", tenant_slug="alpha", role=ClientRole.CLIENT_VIEWER)
    page.goto(server.url("/accounts/login/", "alpha"))
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", name="Password Reset")).to_be_visible()
    page.get_by_label("Email").fill(person.email)
    screenshot(page, "password-reset")
    page.get_by_role("button", name="Reset My Password").click()
    expect(page).to_have_url(server.url("/accounts/password/reset/done/", "alpha"))
    expect(page.get_by_text("We have sent you an email")).to_be_visible()

    page.goto(server.url(reset_path(person.email), "alpha"))
    expect(page.get_by_role("heading", name="Change Password")).to_be_visible()
    page.get_by_label("New Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    screenshot(page, "password-reset-from-key")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Your password is now changed.")).to_be_visible()

    page.goto(server.url("/accounts/login/", "alpha"))
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("tenant-name")).to_have_text("Alpha Energy")


def test_two_factor_overview_and_sign_out(page: Any, server: Any, make_person: Any) -> None:
    staff = make_person("staff-acct", staff_role=StaffRole.DCP_OPERATOR, mfa=True)
    sign_in(page, server, staff)
    page.get_by_label("Code").fill(totp_code(staff.totp_secret))
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_test_id("tenant-list")).to_be_visible()

    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_role("heading", name="Authenticator App")).to_be_visible()
    expect(page.get_by_text("Authentication using an authenticator app is active.")).to_be_visible()
    screenshot(page, "mfa-index")

    page.get_by_role("complementary").get_by_role("link", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign Out")).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="Sign Out").click()
    expect(page).to_have_url(server.url("/accounts/login/"))
    page.goto(server.url("/"))
    expect(page).to_have_url(server.url("/accounts/login/?next=/"))
