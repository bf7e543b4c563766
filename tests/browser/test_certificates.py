"""Certificates in the browser: a client admin requests one from the local CA (issued through
the service, as the Celery worker would), sees the inventory and health, the detail and the
alerts; DCP staff see every client's certificate health on the platform host."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tenants.roles import ClientRole, StaffRole
from tests.browser.conftest import committed, screenshot, sign_in
from tests.browser.test_onboarding import fresh_tenant, staff_sign_in

pytestmark = pytest.mark.browser

DIP_ID = "1409012345"


def test_request_inventory_detail_alerts_and_health(
    new_page: Any, server: Any, make_person: Any
) -> None:
    staff = make_person("cert-staff", staff_role=StaffRole.DCP_ADMIN, mfa=True)
    slug, name = fresh_tenant("crt", staff)
    admin = make_person("cert-admin", tenant_slug=slug, role=ClientRole.CLIENT_ADMIN)

    page = new_page()
    sign_in(page, server, admin, slug)
    page.goto(server.url("/certificates/", slug))
    expect(page.get_by_test_id("certificate-list")).to_contain_text("No certificates yet.")
    page.get_by_test_id("request-certificate").click()
    form = page.get_by_test_id("certificate-form")
    form.get_by_label("Environment").select_option("UIT")
    form.get_by_label("Usage").select_option("signing")
    form.get_by_label("DIP IDs").fill(DIP_ID)
    form.get_by_label("Common name").fill(f"{slug}.signing.example")
    form.get_by_label("Provider").select_option("local_ca")
    form.get_by_role("button", name="Request a certificate").click()
    expect(
        page.get_by_text("Certificate requested; it is issued in the background.")
    ).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text("Pending")
    pk = int(re.search(r"/certificates/(\d+)/", page.url).group(1))  # type: ignore[union-attr]

    def issue_and_warn() -> None:
        from django_tenants.utils import tenant_context

        from certificates import alerts, services
        from certificates.models import Alert
        from tenants.models import Tenant

        with tenant_context(Tenant.objects.get(slug=slug)):
            cert = services.issue_pending(certificate_id=pk)
            alerts.raise_alert(
                kind=Alert.Kind.EXPIRY,
                severity=Alert.Severity.WARNING,
                message=f"{cert.subject or cert.requested_common_name} expires in 14 days.",
                dedupe_key=f"expiry:{cert.pk}:14",
                certificate=cert,
                threshold_days=14,
            )

    committed(issue_and_warn)

    page.goto(server.url("/certificates/", slug))
    row = page.get_by_test_id(f"certificate-{pk}")
    expect(row).to_contain_text(f"{slug}.signing.example")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text(DIP_ID)
    expect(page.get_by_test_id("certificate-health")).to_contain_text("Open alerts")
    screenshot(page, "certificates-inventory")

    row.get_by_role("link").click()
    facts = page.get_by_test_id("certificate-facts")
    expect(facts).to_contain_text(DIP_ID)
    expect(facts).to_contain_text("Local CA")
    expect(facts).to_contain_text("sealed; never shown")
    expect(page.get_by_test_id("renew")).to_be_visible()
    expect(page.get_by_text("expires in 14 days.")).to_be_visible()
    screenshot(page, "certificate-detail")

    page.goto(server.url("/certificates/alerts/", slug))
    alert = page.get_by_test_id("alert-list").get_by_role("row").filter(has_text="expires in 14")
    expect(alert).to_contain_text("Warning")
    screenshot(page, "certificate-alerts")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(
        page.get_by_test_id("alert-list").get_by_role("row").filter(has_text="expires in 14")
    ).to_contain_text("Acknowledged")

    desk = new_page()
    staff_sign_in(desk, server, staff)
    desk.goto(server.url("/certificates/"))
    health = desk.get_by_test_id("platform-certificate-health")
    ours = health.get_by_role("row").filter(has_text=name)
    expect(ours).to_have_count(1)
    expect(ours.get_by_role("cell").nth(2)).to_have_text("1")
    screenshot(desk, "certificates-health")
